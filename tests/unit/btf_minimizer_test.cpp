// The BTF minimizer on hand-built BTF: members reached through anonymous unions, arrays and
// flavored names keep their exact offsets; untouched members and types are left out.
#include "coretrace/core_btf.hpp"
#include "coretrace/error.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <memory>

using namespace coretrace;

namespace {

using BtfPtr = std::unique_ptr<struct btf, void (*)(struct btf*)>;

std::vector<std::uint8_t> raw(const struct btf* b) {
    __u32 size = 0;
    auto data = static_cast<const std::uint8_t*>(btf__raw_data(b, &size));
    return {data, data + size};
}

// "Kernel": struct inner { int a; int b; };
//           struct task { long x; union { int y; struct inner in; }; int arr[4]; char flags:3; };
BtfPtr make_kernel() {
    BtfPtr b(btf__new_empty(), btf__free);
    int i32 = btf__add_int(b.get(), "int", 4, BTF_INT_SIGNED);  // 1
    int i64 = btf__add_int(b.get(), "long", 8, BTF_INT_SIGNED); // 2
    int chr = btf__add_int(b.get(), "char", 1, BTF_INT_SIGNED); // 3
    int inner = btf__add_struct(b.get(), "inner", 8);           // 4
    btf__add_field(b.get(), "a", i32, 0, 0);
    btf__add_field(b.get(), "b", i32, 32, 0);
    int anon = btf__add_union(b.get(), nullptr, 8); // 5
    btf__add_field(b.get(), "y", i32, 0, 0);
    btf__add_field(b.get(), "in", inner, 0, 0);
    int arr = btf__add_array(b.get(), i32, i32, 4); // 6
    btf__add_struct(b.get(), "task", 40);           // 7
    btf__add_field(b.get(), "x", i64, 0, 0);
    btf__add_field(b.get(), nullptr, anon, 64, 0);
    btf__add_field(b.get(), "arr", arr, 128, 0);
    btf__add_field(b.get(), "flags", chr, 256, 3);
    btf__add_struct(b.get(), "unrelated", 4); // 8
    btf__add_field(b.get(), "z", i32, 0, 0);
    return b;
}

// The BPF program's view: struct task___mine { struct inner in; int arr[4]; char flags:3; }
// (its own layout; CO-RE finds the kernel's by names).
struct Local {
    BtfPtr btf{btf__new_empty(), btf__free};
    int task = 0;
    Local() {
        int i32 = btf__add_int(btf.get(), "int", 4, BTF_INT_SIGNED);
        int chr = btf__add_int(btf.get(), "char", 1, BTF_INT_SIGNED);
        int inner = btf__add_struct(btf.get(), "inner", 4);
        btf__add_field(btf.get(), "b", i32, 0, 0);
        int arr = btf__add_array(btf.get(), i32, i32, 4);
        task = btf__add_struct(btf.get(), "task___mine", 24);
        btf__add_field(btf.get(), "in", inner, 0, 0);
        btf__add_field(btf.get(), "arr", arr, 32, 0);
        btf__add_field(btf.get(), "flags", chr, 160, 3);
        btf__add_field(btf.get(), "gone", i32, 168, 0); // absent from the kernel
    }
};

const btf_type* find_struct(const struct btf* b, const char* name) {
    int id = btf__find_by_name_kind(b, name, BTF_KIND_STRUCT);
    return id > 0 ? btf__type_by_id(b, id) : nullptr;
}

} // namespace

TEST(BtfMinimizer, KeepsOnlyTouchedMembersAtKernelOffsets) {
    auto kernel = make_kernel();
    Local local;
    btf::ObjectCoreInfo object;
    object.btf = raw(local.btf.get());
    const auto t = static_cast<std::uint32_t>(local.task);
    object.relocations = {
        {t, "0:0:0", BPF_CORE_FIELD_BYTE_OFFSET}, // task.in.b (through the anonymous union)
        {t, "0:1:2", BPF_CORE_FIELD_BYTE_OFFSET}, // task.arr[2]
        {t, "0:2", BPF_CORE_FIELD_LSHIFT_U64},    // task.flags (bitfield)
        {t, "0:3", BPF_CORE_FIELD_EXISTS},        // task.gone: absent, nothing to keep
    };
    auto bytes = btf::minimize(object, kernel.get());
    BtfPtr min(btf__new(bytes.data(), static_cast<__u32>(bytes.size())), btf__free);
    ASSERT_TRUE(min);

    const btf_type* task = find_struct(min.get(), "task");
    ASSERT_NE(task, nullptr);
    EXPECT_EQ(task->size, 40u);
    ASSERT_EQ(btf_vlen(task), 3u); // the anonymous union, arr, flags: not x
    EXPECT_EQ(btf_member_bit_offset(task, 0), 64u);
    EXPECT_EQ(btf_member_bit_offset(task, 1), 128u);
    EXPECT_EQ(btf_member_bit_offset(task, 2), 256u);
    EXPECT_EQ(btf_member_bitfield_size(task, 2), 3u);

    const btf_type* inner = find_struct(min.get(), "inner");
    ASSERT_NE(inner, nullptr);
    ASSERT_EQ(btf_vlen(inner), 1u); // b only
    EXPECT_STREQ(btf__name_by_offset(min.get(), btf_members(inner)[0].name_off), "b");
    EXPECT_EQ(btf_member_bit_offset(inner, 0), 32u);
    EXPECT_LT(btf__find_by_name_kind(min.get(), "unrelated", BTF_KIND_STRUCT), 0);
    EXPECT_LT(bytes.size(), 400u);
}

TEST(BtfMinimizer, NoRelocationsGiveAnEmptyBtf) {
    auto kernel = make_kernel();
    Local local;
    btf::ObjectCoreInfo object{raw(local.btf.get()), {}};
    auto bytes = btf::minimize(object, kernel.get());
    BtfPtr min(btf__new(bytes.data(), static_cast<__u32>(bytes.size())), btf__free);
    ASSERT_TRUE(min);
    EXPECT_EQ(btf__type_cnt(min.get()), 1u); // just void
}

TEST(BtfMinimizer, RefusesTypeMatchRelocations) {
    auto kernel = make_kernel();
    Local local;
    btf::ObjectCoreInfo object{
        raw(local.btf.get()),
        {{static_cast<std::uint32_t>(local.task), "0", BPF_CORE_TYPE_MATCHES}}};
    EXPECT_THROW(btf::minimize(object, kernel.get()), Error);
}

TEST(BtfMinimizer, RejectsWhatIsNotAnElfObject) {
    std::vector<std::byte> junk(64, std::byte{0x42});
    EXPECT_THROW(btf::read_core_info(junk), Error);
}

// BTF -> ctypes (tests/test_btftypes.py): nested structs and unions, anonymous
// members, arrays of arrays, enums, typedefs, packed and over-aligned structs,
// flexible arrays, and a bitfield that must be refused. An XDP program run by
// PROG_TEST_RUN copies fields of a map value to an array, so the test sees
// where the compiled program finds them.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum color { ZOO_RED = 1, ZOO_GREEN = 2, ZOO_BLUE = 0xfffffff0 };
enum delta { ZOO_DOWN = -1, ZOO_STILL = 0, ZOO_UP = 1 };
enum big { ZOO_HUGE = 0x100000000ULL };

typedef struct {
    __u16 lo;
    __u16 hi;
} pair16_t;

struct point {
    __s32 x;
    __s32 y;
};

struct zoo {
    __u8 tag;                     /* 7 bytes of padding follow */
    __u64 stamp;
    struct point corners[2][3];
    union {
        __u32 word;
        __u8 bytes[4];
    };                            /* anonymous: its members are the zoo's */
    struct {
        __u16 port;
        pair16_t pair;
    } nested;
    enum color color;
    enum delta delta;
    enum big big;
    char name[5];
    bool flag;
    void *ptr;
    struct task_struct *task;     /* a pointer to an incomplete-here type is fine */
    double ratio;
    __s8 small;
    __u32 tail[];                 /* flexible array member */
};

struct packed_rec {
    __u8 a;
    __u64 b;
    __u16 c;
} __attribute__((packed));

struct aligned_rec {
    __u32 a;
    __u32 b __attribute__((aligned(16)));
} __attribute__((aligned(32)));

struct holder {
    __u8 first;
    struct packed_rec p;
    struct aligned_rec al;
    __u8 last;
};

struct with_bits {
    __u32 a : 3;
    __u32 b : 29;
};

struct value {
    struct point pt;
    union {
        __u64 whole;
        __u32 halves[2];
    } u;
    struct packed_rec p;
    __u8 after_packed;
    __u16 grid[2][3];
};

struct zoo zoo_var;
struct holder holder_var;
struct with_bits bits_var;
pair16_t pair_var;
enum color color_var;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __type(key, struct point);
    __type(value, struct value);
} values SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

static __always_inline void put(__u32 i, __u64 v)
{
    bpf_map_update_elem(&seen, &i, &v, BPF_ANY);
}

SEC("xdp")
int copy_fields(struct xdp_md *ctx)
{
    struct point k = { .x = 1, .y = -2 };
    struct value *v = bpf_map_lookup_elem(&values, &k);

    if (!v)
        return XDP_PASS;
    put(0, v->pt.y);
    put(1, v->u.halves[1]);
    put(2, v->p.b);
    put(3, v->p.c);
    put(4, v->after_packed);
    put(5, v->grid[1][2]);
    return XDP_PASS;
}

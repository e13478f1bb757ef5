/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kptr.h: the small header every kptr-conform BPF object includes.
 *
 * It replaces vmlinux.h (which costs ~0.4 s of every clang run) with exactly what the generated
 * programs use, and adds what Debian's libbpf 1.1 headers lack: the __kptr/__percpu_kptr type tags,
 * the object-allocation kfuncs, the RCU kfuncs, the numbers iterator behind bpf_for(), and the
 * test_loader annotations of the kernel selftests' progs/bpf_misc.h (so a reproducer reads like an
 * upstream selftest program file).
 *
 * Compile: clang-16 -g -O2 -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c x.bpf.c
 */
#ifndef __KPTR_CONFORM_H__
#define __KPTR_CONFORM_H__

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#ifndef NULL
#define NULL ((void *)0)
#endif

/* Type tags the verifier reads from BTF (btf_parse_kptr: "kptr", "percpu_kptr"). */
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))

/*
 * kfuncs. Every extern is __weak: libbpf 1.1 then resolves a kfunc the kernel lacks to a call with
 * imm 0 instead of failing the whole object, and only a program that reaches that call is rejected
 * by the verifier. The prototypes match the kernel's (libbpf checks them for compatibility).
 */
extern void *bpf_percpu_obj_new_impl(__u64 local_type_id, void *meta) __ksym __weak;
extern void bpf_percpu_obj_drop_impl(void *kptr, void *meta) __ksym __weak;
extern void *bpf_obj_new_impl(__u64 local_type_id, void *meta) __ksym __weak;
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;

/* As in selftests' bpf_experimental.h: the local BTF id tells the kernel which type to allocate. */
#define bpf_percpu_obj_new(type) \
	((type __percpu_kptr *)bpf_percpu_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_percpu_obj_drop(kptr) bpf_percpu_obj_drop_impl(kptr, NULL)
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)

/*
 * Local storage (task and cgroup). Debian 12's uapi header (6.1) predates BPF_MAP_TYPE_CGRP_STORAGE (v6.2, value 32
 * in enum bpf_map_type); a macro defined after the enum is right with either header. The owner of a cgroup's storage
 * is the cgroup the current task runs in, reached as upstream's percpu_alloc_cgrp_local_storage.c does: CO-RE field
 * accesses that libbpf relocates against the kernel's BTF.
 */
#define BPF_MAP_TYPE_CGRP_STORAGE 32

struct cgroup;
struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));
struct task_struct {
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

/*
 * A load of a kptr field, as the kernel's READ_ONCE: each one reaches the verifier as its own load. A plain C read
 * may be merged by clang with an earlier read of the same field (nothing in between writes it, as far as C knows),
 * and the verifier would then see the earlier, NULL-checked register instead of a fresh maybe-NULL one.
 */
#define READ_KPTR(field) (*(volatile typeof(field) *)&(field))

/*
 * Open-coded numbers iterator (kernel 6.4+). The uapi header of Debian 12 (6.1) predates
 * struct bpf_iter_num; the verifier recognises the iterator by this exact name and size.
 */
struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym __weak;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym __weak;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym __weak;

/*
 * bpf_for(i, start, end): a for loop that sets i to start .. end-1 and proves i's range to the
 * verifier. Same semantics as bpf_experimental.h: the iterator lives in the for-init clause and
 * is destroyed by the cleanup attribute on every exit path; the unused ___p pointer exists only
 * to call bpf_iter_num_new() once; naming bpf_iter_num_destroy in a cast makes clang emit its BTF,
 * which it does not do for cleanup() functions alone.
 */
#define bpf_for(i, start, end)                                                                 \
	for (struct bpf_iter_num ___it __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___p __attribute__((unused)) =                                                      \
		     (bpf_iter_num_new(&___it, (start), (end)), (void)bpf_iter_num_destroy, (void *)0); \
	     ({                                                                                    \
		     int *___t = bpf_iter_num_next(&___it);                                        \
		     (___t && ((i) = *___t, (i) >= (start) && (i) < (end)));                       \
	     });)

/*
 * test_loader annotations, tagged as upstream's progs/bpf_misc.h tags them today: "comment:<__COUNTER__>:<tag>".
 * test_loader.c sorts a program's decl tags by that counter (so __msg patterns keep their source order) and
 * ignores a tag without it, as the older plain "comment:<tag>" form now is.
 */
#define __KC_STR(s) #s
#define __KC_XSTR(s) __KC_STR(s)
#define __test_tag(tag) __attribute__((btf_decl_tag("comment:" __KC_XSTR(__COUNTER__) ":" tag)))
#define __msg(msg) __test_tag("test_expect_msg=" msg)
#define __failure __test_tag("test_expect_failure")
#define __success __test_tag("test_expect_success")
#define __description(desc) __test_tag("test_description=" desc)
#define __retval(val) __test_tag("test_retval=" __KC_XSTR(val))

#endif /* __KPTR_CONFORM_H__ */

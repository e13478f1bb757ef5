// SPDX-License-Identifier: GPL-2.0-only
/*
 * kptr-conform native harness: the only code of the project that talks to the kernel.
 *
 *   harness probe
 *   harness run OBJECT.o PLAN [--out FILE] [--kmsg-markers] [--kmsg-watch]
 *
 * The protocol (plan lines in, JSON lines out) is described in ARCHITECTURE.md, "The harness protocol".
 *
 * Every program of one object gets its own verdict although libbpf loads an object as a whole: the binary is
 * linked with -Wl,--wrap=bpf_prog_load, so libbpf's calls land in __wrap_bpf_prog_load below. A program the
 * kernel rejects is recorded (errno + full log_level 1 log) and replaced by a trivial `r0 = 0; exit` so that
 * bpf_object__load goes on with the next program. The substitute is never executed.
 *
 * Built statically (scripts/build-harness.sh) so the same binary runs in a busybox initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/membarrier.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define MAX_PROGS 4096
#define MAX_GLOBAL_SETS 4096
#define LOG_INITIAL (4u << 20)
#define LOG_MAX (1u << 30)
#define PAD_SIZE 64

/* ---------- output ---------- */

static FILE *out;

/* JSON string body: every byte is either copied (printable ASCII, valid UTF-8 sequences) or escaped, so any
 * verifier log or libbpf message survives a JSON round trip. Invalid UTF-8 bytes become \u00XX. */
static void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', out);
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			p++;
		} else if (c == '\n') {
			fputs("\\n", out);
			p++;
		} else if (c == '\t') {
			fputs("\\t", out);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			fputc(c, out);
			p++;
		} else {
			int n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : 0;
			bool ok = n > 0;
			for (int i = 1; ok && i <= n; i++)
				ok = (p[i] & 0xc0) == 0x80;
			if (ok) {
				fwrite(p, 1, n + 1, out);
				p += n + 1;
			} else {
				fprintf(out, "\\u%04x", c);
				p++;
			}
		}
	}
	fputc('"', out);
}

static _Noreturn void die(const char *fmt, ...);

/* A line the output could not take (a full disk) ends the run: the caller must not read a cut file as results. */
static void ev_end(void)
{
	fputs("}\n", out);
	if (fflush(out) != 0 || ferror(out))
		die("writing results: %s", strerror(errno));
}

/* errno names as the kernel spells them; glibc does not know the kernel-internal 512..530 range */
static const char *errno_name(int e)
{
	switch (e) {
	case 512: return "ERESTARTSYS";
	case 513: return "ERESTARTNOINTR";
	case 514: return "ERESTARTNOHAND";
	case 515: return "ENOIOCTLCMD";
	case 516: return "ERESTART_RESTARTBLOCK";
	case 517: return "EPROBE_DEFER";
	case 518: return "EOPENSTALE";
	case 519: return "ENOPARAM";
	case 521: return "EBADHANDLE";
	case 522: return "ENOTSYNC";
	case 523: return "EBADCOOKIE";
	case 524: return "ENOTSUPP";
	case 525: return "ETOOSMALL";
	case 526: return "ESERVERFAULT";
	case 527: return "EBADTYPE";
	case 528: return "EJUKEBOX";
	case 529: return "EIOCBQUEUED";
	case 530: return "ERECALLCONFLICT";
	}
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	static char buf[32];
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	fputs("harness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---------- libbpf messages (object-level failures are reported with them) ---------- */

static char *libbpf_msgs;
static size_t libbpf_msgs_len;

static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char line[4096];
	int n = vsnprintf(line, sizeof(line), fmt, args);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	char *grown = realloc(libbpf_msgs, libbpf_msgs_len + n + 1);
	if (!grown)
		return 0;
	libbpf_msgs = grown;
	memcpy(libbpf_msgs + libbpf_msgs_len, line, n + 1);
	libbpf_msgs_len += n;
	return 0;
}

/* ---------- kmsg markers ---------- */

static int kmsg_fd = -1;
static const char *marked_scenario;

static void kmsg_write(const char *what, const char *scenario)
{
	if (kmsg_fd < 0)
		return;
	char line[512];
	int n = snprintf(line, sizeof(line), "kptr-conform: %s %s\n", what, scenario);
	if (n > 0 && write(kmsg_fd, line, n) < 0) {
		/* markers are a diagnostic aid; losing one must not stop the run */
	}
}

/* Brackets kernel console output with the scenario that caused it. NULL ends the open bracket. */
static void mark_scenario(const char *scenario)
{
	if (marked_scenario && scenario && strcmp(marked_scenario, scenario) == 0)
		return;
	if (marked_scenario)
		kmsg_write("end", marked_scenario);
	marked_scenario = scenario;
	if (scenario)
		kmsg_write("begin", scenario);
}

/* With --kmsg-watch, which program a splat belongs to. A verifier WARN is logged synchronously inside the
 * bpf_prog_load (or test_run) that causes it, from this process: after each such call the harness reads what the
 * kernel logged during it, and if anything (besides markers) was, writes `kptr-conform: logged PID SCENARIO PROG`;
 * what was logged since the previous call, outside any program, gets `kptr-conform: logged PID`. A reader gives
 * a splat whose report names this PID to the first such marker after it. Nothing is written while the kernel is
 * quiet, so a long campaign does not fill the host's log with markers. */
static int kmsg_watch_fd = -1;

static void kmsg_watch_open(void)
{
	kmsg_watch_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	/* without read access (no CAP_SYSLOG) splats are attributed by scenario only */
	if (kmsg_watch_fd >= 0)
		lseek(kmsg_watch_fd, 0, SEEK_END);
}

/* Whether the kernel logged a record that is not a marker since the last call. */
static bool kmsg_logged(void)
{
	if (kmsg_watch_fd < 0)
		return false;
	static char rec[8192];
	bool logged = false;
	for (;;) {
		ssize_t n = read(kmsg_watch_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) /* records overwritten before read: the position moved on */
			continue;
		if (n <= 0)
			return logged;
		rec[n] = 0;
		const char *msg = strchr(rec, ';');
		if (msg && strncmp(msg + 1, "kptr-conform: ", 14) != 0)
			logged = true;
	}
}

/* scenario NULL: the records since the last call came from outside any program. */
static void kmsg_mark_logged(const char *scenario, const char *prog)
{
	if (!kmsg_logged())
		return;
	/* an open of its own: /dev/kmsg's write ratelimit (printk.devkmsg=ratelimit) is per open file, and a lost
	 * marker would give its splat to the next program; markers are only as frequent as the kernel's own output */
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char line[600];
	int n = scenario ? snprintf(line, sizeof(line), "kptr-conform: logged %d %s %s\n", (int)getpid(), scenario, prog)
			 : snprintf(line, sizeof(line), "kptr-conform: logged %d\n", (int)getpid());
	if (n > 0 && write(fd, line, n) < 0) {
		/* a diagnostic aid: the splat is still attributed to its scenario */
	}
	close(fd);
}

/* ---------- plan ---------- */

struct prog_entry {
	char *name;
	char *scenario; /* optional, for kmsg markers */
	bool seen;      /* the wrapper got a verdict for it */
	bool accepted;
	bool log_first; /* plan word `log`: a refusal is expected, so the first load takes the log (one load, not two) */
};

struct global_set {
	char *scenario;
	int count;
	char **names;
};

/* A `kfuncs` plan line: the kfuncs a scenario's programs call, name-sorted. */
struct kfunc_set {
	char *scenario;
	int count;
	char **names;
};

static struct prog_entry progs[MAX_PROGS];
static int nprogs;
static struct global_set gsets[MAX_GLOBAL_SETS];
static int ngsets;
static struct kfunc_set ksets[MAX_GLOBAL_SETS];
static int nksets;

static struct prog_entry *find_prog(const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < nprogs; i++)
		if (strcmp(progs[i].name, name) == 0)
			return &progs[i];
	return NULL;
}

static struct global_set *find_gset(const char *scenario)
{
	for (int i = 0; i < ngsets; i++)
		if (strcmp(gsets[i].scenario, scenario) == 0)
			return &gsets[i];
	return NULL;
}

static char **split_words(char *line, int *count)
{
	int cap = 8, n = 0;
	char **w = malloc(cap * sizeof(*w));
	for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
		if (n == cap)
			w = realloc(w, (cap *= 2) * sizeof(*w));
		w[n++] = strdup(tok);
	}
	*count = n;
	return w;
}

/* ---------- the bpf_prog_load wrapper ---------- */

int __real_bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name, const char *license,
			 const struct bpf_insn *insns, size_t insn_cnt, struct bpf_prog_load_opts *opts);

static char *verifier_log;
static size_t verifier_log_size;

/*
 * Load with log_level 1 to get the full verifier log, growing the buffer on ENOSPC (a log that did not fit); the
 * program's fd or -1 with errno. The log changes no verdict: a log cut short is the only refusal it adds.
 */
static int load_logged(enum bpf_prog_type t, const char *name, const char *lic, const struct bpf_insn *insns,
		       size_t cnt, const struct bpf_prog_load_opts *opts)
{
	if (!verifier_log) {
		verifier_log_size = LOG_INITIAL;
		verifier_log = malloc(verifier_log_size);
	}
	for (;;) {
		struct bpf_prog_load_opts o = *opts;
		verifier_log[0] = 0;
		o.log_buf = verifier_log;
		o.log_size = verifier_log_size;
		o.log_level = 1;
		int fd = __real_bpf_prog_load(t, name, lic, insns, cnt, &o);
		if (fd >= 0 || errno != ENOSPC || verifier_log_size >= LOG_MAX)
			return fd;
		verifier_log_size *= 2;
		free(verifier_log);
		verifier_log = malloc(verifier_log_size);
	}
}

/* The fields every refusal carries, in load and object events alike: stage, errno (number and name), log. */
static void json_refusal(const char *stage, int e, const char *log)
{
	fputs(",\"stage\":", out);
	json_str(stage);
	fprintf(out, ",\"errno\":%d,\"errno_name\":", e);
	json_str(errno_name(e));
	fputs(",\"log\":", out);
	json_str(log);
}

/* `r0 = 0; exit` of the same type so libbpf continues; a socket filter if even that is refused. */
static int load_substitute(enum bpf_prog_type t, const char *name, const char *lic, const struct bpf_prog_load_opts *opts)
{
	const struct bpf_insn trivial[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_load_opts o = *opts;
	o.func_info = NULL;
	o.func_info_cnt = 0;
	o.func_info_rec_size = 0;
	o.line_info = NULL;
	o.line_info_cnt = 0;
	o.line_info_rec_size = 0;
	o.fd_array = NULL;
	o.log_buf = NULL;
	o.log_size = 0;
	o.log_level = 0;
	int fd = __real_bpf_prog_load(t, name, lic, trivial, 2, &o);
	if (fd >= 0)
		return fd;
	LIBBPF_OPTS(bpf_prog_load_opts, plain);
	return __real_bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, name, "GPL", trivial, 2, &plain);
}

static int load_and_report(struct prog_entry *p, enum bpf_prog_type t, const char *name, const char *lic,
			   const struct bpf_insn *insns, size_t cnt, struct bpf_prog_load_opts *opts);

int __wrap_bpf_prog_load(enum bpf_prog_type t, const char *name, const char *lic, const struct bpf_insn *insns,
			 size_t cnt, struct bpf_prog_load_opts *opts)
{
	struct prog_entry *p = find_prog(name);
	if (!p) /* libbpf's own feature probes, or the probe command */
		return __real_bpf_prog_load(t, name, lic, insns, cnt, opts);

	if (p->scenario)
		mark_scenario(p->scenario);
	kmsg_mark_logged(NULL, NULL);
	int fd = load_and_report(p, t, name, lic, insns, cnt, opts);
	kmsg_mark_logged(p->scenario ? p->scenario : "-", name);
	return fd;
}

/* One program's load: its verdict event, and for a rejected program the log and the substitute's fd. */
static int load_and_report(struct prog_entry *p, enum bpf_prog_type t, const char *name, const char *lic,
			   const struct bpf_insn *insns, size_t cnt, struct bpf_prog_load_opts *opts)
{
	LIBBPF_OPTS(bpf_prog_load_opts, none);
	long long t0 = now_ns();
	int fd = p->log_first ? load_logged(t, name, lic, insns, cnt, opts ? opts : &none)
			      : __real_bpf_prog_load(t, name, lic, insns, cnt, opts);
	if (fd < 0 && errno == ENOSPC && p->log_first) /* even LOG_MAX was too small: the verdict of a load without log */
		fd = __real_bpf_prog_load(t, name, lic, insns, cnt, opts);
	int err = errno;
	long long ns = now_ns() - t0;
	p->seen = true;
	p->accepted = fd >= 0;

	fputs("{\"ev\":\"load\",\"prog\":", out);
	json_str(name);
	if (fd >= 0) {
		fprintf(out, ",\"verdict\":\"accepted\",\"ns\":%lld", ns);
		ev_end();
		return fd;
	}
	if (!p->log_first) { /* the refusal's log, from a second load; a program accepted then is dropped */
		int again = load_logged(t, name, lic, insns, cnt, opts ? opts : &none);
		if (again >= 0)
			close(again);
	}
	fputs(",\"verdict\":\"rejected\"", out);
	json_refusal("verifier", err, verifier_log);
	fprintf(out, ",\"ns\":%lld", ns);
	ev_end();
	return load_substitute(t, name, lic, opts ? opts : &none);
}

/* ---------- BTF lookups of global variables ---------- */

struct var_loc {
	struct bpf_map *map; /* internal map (.bss/.data/.rodata) */
	__u32 offset;
	__u32 size;
	bool is_signed;
	bool found;
};

/* Internal maps are named `<object prefix><section>`: the plain sections are recognised by their suffix. */
static struct bpf_map *map_of_datasec(struct bpf_object *obj, const char *sec)
{
	struct bpf_map *m;
	size_t sl = strlen(sec);
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t nl = strlen(n);
		if (bpf_map__is_internal(m) && nl >= sl && strcmp(n + nl - sl, sec) == 0)
			return m;
	}
	return NULL;
}

static struct var_loc find_var(struct bpf_object *obj, const char *name)
{
	struct var_loc loc = { 0 };
	const struct btf *btf = bpf_object__btf(obj);
	if (!btf)
		return loc;
	__u32 n = btf__type_cnt(btf);
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!btf_is_datasec(t))
			continue;
		const char *sec = btf__name_by_offset(btf, t->name_off);
		if (strcmp(sec, ".bss") && strcmp(sec, ".data") && strcmp(sec, ".rodata"))
			continue;
		const struct btf_var_secinfo *vsi = btf_var_secinfos(t);
		for (int i = 0; i < btf_vlen(t); i++, vsi++) {
			const struct btf_type *v = btf__type_by_id(btf, vsi->type);
			if (strcmp(btf__name_by_offset(btf, v->name_off), name))
				continue;
			const struct btf_type *vt = btf__type_by_id(btf, btf__resolve_type(btf, v->type));
			loc.map = map_of_datasec(obj, sec);
			loc.offset = vsi->offset;
			loc.size = vsi->size;
			loc.is_signed = vt && btf_is_int(vt) && (btf_int_encoding(vt) & BTF_INT_SIGNED);
			if (vt && btf_is_enum(vt))
				loc.is_signed = btf_kflag(vt);
			loc.found = loc.map != NULL;
			return loc;
		}
	}
	return loc;
}

/* The C value of an integer global as a decimal string (u64 does not fit a JSON number). */
static bool format_value(const unsigned char *p, __u32 size, bool is_signed, char *buf, size_t len)
{
	__u64 u = 0;
	__s64 s = 0;
	switch (size) {
	case 1: u = *(const __u8 *)p; s = *(const __s8 *)p; break;
	case 2: { __u16 x; memcpy(&x, p, 2); u = x; s = (__s16)x; break; }
	case 4: { __u32 x; memcpy(&x, p, 4); u = x; s = (__s32)x; break; }
	case 8: { __u64 x; memcpy(&x, p, 8); u = x; s = (__s64)x; break; }
	default: return false;
	}
	if (is_signed)
		snprintf(buf, len, "%lld", (long long)s);
	else
		snprintf(buf, len, "%llu", (unsigned long long)u);
	return true;
}

static void print_globals(struct bpf_object *obj, const char *scenario)
{
	fputs(",\"globals\":{", out);
	struct global_set *g = find_gset(scenario);
	for (int i = 0; g && i < g->count; i++) {
		if (i)
			fputc(',', out);
		json_str(g->names[i]);
		fputc(':', out);
		struct var_loc loc = find_var(obj, g->names[i]);
		char val[32];
		unsigned char *buf = NULL;
		int zero = 0;
		if (loc.found && (buf = malloc(bpf_map__value_size(loc.map))) &&
		    bpf_map_lookup_elem(bpf_map__fd(loc.map), &zero, buf) == 0 &&
		    loc.offset + loc.size <= bpf_map__value_size(loc.map) &&
		    format_value(buf + loc.offset, loc.size, loc.is_signed, val, sizeof(val)))
			json_str(val);
		else
			fputs("null", out);
		free(buf);
	}
	fputc('}', out);
}

/* ---------- running ---------- */

static bool is_tracing(enum bpf_prog_type t)
{
	return t == BPF_PROG_TYPE_TRACING;
}

/* `step` >= 0: the schedule step, for the runs of a `concurrent` line */
static void skip_event_at(const char *scenario, const char *prog, const char *reason, int step)
{
	fputs("{\"ev\":\"skip\",\"scenario\":", out);
	json_str(scenario);
	fputs(",\"prog\":", out);
	json_str(prog);
	fputs(",\"reason\":", out);
	json_str(reason);
	if (step >= 0)
		fprintf(out, ",\"step\":%d", step);
	ev_end();
}

static void skip_event(const char *scenario, const char *prog, const char *reason)
{
	skip_event_at(scenario, prog, reason, -1);
}

static bool pin_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/* The tracing program attached to bpf_fentry_test1, if any. It stays attached between its test runs: a detach
 * waits for an RCU tasks grace period, which under TCG costs tens of milliseconds per run. Only the test_run of a
 * tracing program calls bpf_fentry_test1, so an attached program fires only for its own runs provided no other
 * tracing program is attached: attach_only() detaches it before another one attaches, and run_line() detaches it
 * when the scenario changes, so that what the detach prints is bracketed by its own scenario's markers. */
static struct bpf_program *attached_prog;
static struct bpf_link *attached_link;
static const char *attached_scenario;

static void detach_tracing(void)
{
	if (attached_link)
		bpf_link__destroy(attached_link);
	attached_link = NULL;
	attached_prog = NULL;
	attached_scenario = NULL;
}

/* A trivial fentry program kept on bpf_fentry_test1 while the plan's tracing programs run. With it, attaching and
 * detaching a scenario's program only modifies the function's existing ftrace direct call instead of registering
 * and unregistering one (each waits for RCU tasks grace periods): measured under TCG on 6.12, 150 fentry
 * scenarios took 35 s without it and 18 s with it. It returns 0 and touches nothing, so it changes no result. */
static int anchor_fd = -1, anchor_link = -1;

/* The kernel's BTF, parsed once per run (the kfunc check and the anchor both need it; under TCG a parse is slow).
 * NULL when the kernel has none. */
static struct btf *vmlinux_btf(void)
{
	static struct btf *btf;
	static bool tried;
	if (!tried) {
		tried = true;
		btf = btf__load_vmlinux_btf();
	}
	return btf;
}

static void attach_anchor(void)
{
	struct btf *vmlinux = vmlinux_btf();
	int id = vmlinux ? btf__find_by_name_kind(vmlinux, "bpf_fentry_test1", BTF_KIND_FUNC) : -1;
	if (id <= 0)
		return; /* the attach of the scenario's own program reports the problem */
	const struct bpf_insn trivial[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = id);
	anchor_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "kptr_anchor", "GPL", trivial, 2, &o);
	if (anchor_fd >= 0)
		anchor_link = bpf_link_create(anchor_fd, 0, BPF_TRACE_FENTRY, NULL);
}

static void detach_anchor(void)
{
	if (anchor_link >= 0)
		close(anchor_link);
	if (anchor_fd >= 0)
		close(anchor_fd);
	anchor_link = anchor_fd = -1;
}

static int attach_only(struct bpf_program *prog, const char *scenario)
{
	if (attached_prog == prog)
		return 0;
	detach_tracing();
	struct bpf_link *link = bpf_program__attach(prog);
	if (!link)
		return errno ? errno : EINVAL;
	attached_prog = prog;
	attached_link = link;
	attached_scenario = scenario;
	return 0;
}

/* One BPF_PROG_TEST_RUN of a program that needs no attach: returns 0 or a positive errno. Thread-safe (the two
 * runs of a `concurrent` line call it at once). */
static int test_run_raw(struct bpf_program *prog, __u32 *retval, long long *ns)
{
	unsigned char data[PAD_SIZE] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o);
	if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS) {
		o.data_in = data;
		o.data_size_in = sizeof(data);
	}
	long long t0 = now_ns();
	int r = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	*ns = now_ns() - t0;
	*retval = o.retval;
	return r ? (r < 0 ? -r : r) : 0;
}

/* ---------- local storage owners ---------- */

/* A scenario with a local-storage slot (plan line `owner <scenario> process|cgroup`) runs its programs in an owner of
 * its own: a child process, in a cgroup of its own for cgroup storage, so that bpf_get_current_task_btf() is that
 * process and task->cgroups->dfl_cgrp that cgroup. The harness keeps loading, attaching and reading results itself
 * and hands the child only the BPF_PROG_TEST_RUN calls (program fds are shared across fork). `owner_exit` ends the
 * child and removes its cgroup, and the kernel frees their storage; the next run starts a new owner. An owner that
 * no owner_exit ends lives to the end of the harness (memory passes included). */
#define MAX_OWNERS 4096
#define MAX_RETIRED 4096
struct owner {
	const char *scenario;
	bool cgroup;
	pid_t pid; /* 0: none running */
	int req, resp;
	char dir[256];
};
static struct owner owners[MAX_OWNERS];
static int nowners;

struct owner_req {
	int fd, cpu;
	bool tc;
};
struct owner_resp {
	int err;
	__u32 retval;
	long long ns;
};

static struct owner *find_owner(const char *scenario)
{
	for (int i = 0; i < nowners; i++)
		if (strcmp(owners[i].scenario, scenario) == 0)
			return &owners[i];
	return NULL;
}

/* Where cgroup2 is mounted (the VM's /init mounts it at /sys/fs/cgroup), or NULL. */
static const char *cgroup2_root(void)
{
	static char root[256];
	FILE *f = fopen("/proc/self/mounts", "r");
	char dev[64], dir[256], type[64];
	root[0] = 0;
	while (f && fscanf(f, "%63s %255s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(root, sizeof(root), "%s", dir);
			break;
		}
	if (f)
		fclose(f);
	return root[0] ? root : NULL;
}

static bool write_all(int fd, const void *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n;
}

static bool read_all(int fd, void *p, size_t n)
{
	return read(fd, p, n) == (ssize_t)n;
}

/* The child: join the cgroup, say so (0 or an errno), then serve test runs until the harness closes the pipe. */
static _Noreturn void owner_serve(struct owner *o)
{
	int err = 0;
	if (o->cgroup) {
		char procs[300];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", o->dir);
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			err = errno;
		if (fd >= 0)
			close(fd);
	}
	if (!write_all(o->resp, &err, sizeof(err)) || err)
		_exit(1);
	struct owner_req q;
	while (read_all(o->req, &q, sizeof(q))) {
		unsigned char data[PAD_SIZE] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, opts);
		if (q.tc) {
			opts.data_in = data;
			opts.data_size_in = sizeof(data);
		}
		struct owner_resp r = { 0 };
		if (!pin_to_cpu(q.cpu)) {
			r.err = errno;
		} else {
			long long t0 = now_ns();
			int rc = bpf_prog_test_run_opts(q.fd, &opts);
			r.ns = now_ns() - t0;
			r.err = rc ? (rc < 0 ? -rc : rc) : 0;
			r.retval = opts.retval;
		}
		if (!write_all(o->resp, &r, sizeof(r)))
			break;
	}
	_exit(0);
}

/* `owner_exit <scenario> keep` (owner_retire) */
static struct owner retired[MAX_RETIRED];
static int nretired;

/* In a new owner's child: the pipes of the other owners (running or retired), inherited across fork. */
static void close_other_owners(const struct owner *self)
{
	for (int i = 0; i < nowners; i++)
		if (&owners[i] != self && owners[i].pid > 0) {
			close(owners[i].req);
			close(owners[i].resp);
		}
	for (int i = 0; i < nretired; i++)
		if (retired[i].pid > 0) {
			close(retired[i].req);
			close(retired[i].resp);
		}
}

/* Starts the scenario's owner: its cgroup (if asked for) and the child. 0 or an errno. */
static int owner_start(struct owner *o)
{
	static int serial;
	o->dir[0] = 0;
	if (o->cgroup) {
		const char *root = cgroup2_root();
		if (!root)
			return ENOENT;
		snprintf(o->dir, sizeof(o->dir), "%s/kptr-conform-%d-%d", root, (int)getpid(), serial++);
		if (mkdir(o->dir, 0755) != 0)
			return errno;
	}
	int req[2], resp[2];
	if (pipe2(req, O_CLOEXEC) != 0)
		return errno;
	if (pipe2(resp, O_CLOEXEC) != 0) {
		int e = errno;
		close(req[0]);
		close(req[1]);
		return e;
	}
	/* the child must not write what the parent's buffers still hold */
	fflush(out);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		close(req[1]);
		close(resp[0]);
		/* another owner's pipe ends here would keep it from seeing its end of input (owner_end) */
		close_other_owners(o);
		/* and a tracing link held here would keep its program attached after the harness detaches it: attaching
		 * that program again then fails with EBUSY (measured on 6.12 with fentry programs on task storage) */
		if (attached_link)
			close(bpf_link__fd(attached_link));
		if (anchor_link >= 0)
			close(anchor_link);
		o->req = req[0];
		o->resp = resp[1];
		owner_serve(o);
	}
	close(req[0]);
	close(resp[1]);
	o->pid = pid;
	o->req = req[1];
	o->resp = resp[0];
	int err = 0;
	if (!read_all(o->resp, &err, sizeof(err)))
		err = EPIPE;
	return err;
}

/* Ends the owner: the child exits (its pipe closed) and is reaped, then its cgroup is removed (rmdir fails with
 * EBUSY while the dying task still counts in it). 0 or an errno. */
static int owner_end(struct owner *o)
{
	int err = 0;
	if (o->pid > 0) {
		close(o->req);
		int status;
		if (waitpid(o->pid, &status, 0) < 0)
			err = errno;
		close(o->resp);
		o->pid = 0;
	}
	if (o->dir[0]) {
		int r = -1;
		for (int i = 0; i < 200 && (r = rmdir(o->dir)) != 0 && errno == EBUSY; i++)
			usleep(5000);
		if (r != 0 && !err)
			err = errno;
		o->dir[0] = 0;
	}
	return err;
}

/* `owner_exit <scenario> keep` (testing only: a kernel that keeps a dead owner's storage): the owner stays alive
 * with its storage to the end of the harness, and the next run starts a new one. */
static int owner_retire(struct owner *o)
{
	if (nretired == MAX_RETIRED)
		return ENOSPC;
	retired[nretired++] = *o;
	o->pid = 0;
	o->dir[0] = 0;
	return 0;
}

static void end_owners(void)
{
	for (int i = 0; i < nowners; i++)
		owner_end(&owners[i]);
	for (int i = 0; i < nretired; i++)
		owner_end(&retired[i]);
}

/* One BPF_PROG_TEST_RUN in the owner (started if it is not running). Returns 0 or a positive errno. */
static int owner_test_run(struct owner *o, int fd, int cpu, bool tc, __u32 *retval, long long *ns)
{
	if (o->pid == 0) {
		int err = owner_start(o);
		if (err) {
			owner_end(o);
			return err;
		}
	}
	struct owner_req q = { fd, cpu, tc };
	struct owner_resp r;
	if (!write_all(o->req, &q, sizeof(q)) || !read_all(o->resp, &r, sizeof(r)))
		return EPIPE;
	*retval = r.retval;
	*ns = r.ns;
	return r.err;
}

/* One BPF_PROG_TEST_RUN; a tracing program is attached first (test_run of a tracing program calls
 * bpf_fentry_test1..N, which triggers the attached program). Returns 0 or a positive errno. */
static int test_run_once(struct bpf_program *prog, const char *scenario, int cpu, __u32 *retval, long long *ns)
{
	if (is_tracing(bpf_program__type(prog))) {
		int err = attach_only(prog, scenario);
		if (err)
			return err;
	}
	kmsg_mark_logged(NULL, NULL);
	struct owner *owner = find_owner(scenario);
	int err = owner ? owner_test_run(owner, bpf_program__fd(prog), cpu, bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS, retval, ns)
			: test_run_raw(prog, retval, ns);
	kmsg_mark_logged(scenario, bpf_program__name(prog));
	return err;
}

/* A `run` event; `step` >= 0 for the runs of a `concurrent` line. The globals are read now. */
static void run_event(struct bpf_object *obj, const char *scenario, const char *pname, int cpu, int iter, int step,
		      int err, __u32 retval, long long ns)
{
	fputs("{\"ev\":\"run\",\"scenario\":", out);
	json_str(scenario);
	fputs(",\"prog\":", out);
	json_str(pname);
	fprintf(out, ",\"cpu\":%d,\"iter\":%d,\"err\":", cpu, iter);
	if (err)
		json_str(errno_name(err));
	else
		fputs("null", out);
	if (err)
		fputs(",\"retval\":null", out);
	else
		fprintf(out, ",\"retval\":%d", (int)retval);
	fprintf(out, ",\"ns\":%lld", ns);
	if (step >= 0)
		fprintf(out, ",\"step\":%d", step);
	print_globals(obj, scenario);
	ev_end();
}

/* The program of a run, or NULL after a skip event saying why it cannot run on `cpu`. */
static struct bpf_program *runnable(struct bpf_object *obj, bool obj_ok, int nr_cpus, const char *scenario,
				    const char *pname, int cpu, int step)
{
	struct prog_entry *pe = find_prog(pname);
	struct bpf_program *prog = obj_ok ? bpf_object__find_program_by_name(obj, pname) : NULL;
	char reason[128];
	if (!obj_ok) {
		skip_event_at(scenario, pname, "the object failed to load", step);
		return NULL;
	}
	if (!prog || !pe) {
		skip_event_at(scenario, pname, "program is not in the plan's prog lines", step);
		return NULL;
	}
	if (!pe->accepted) {
		skip_event_at(scenario, pname, "the kernel rejected the program", step);
		return NULL;
	}
	if (cpu < 0 || cpu >= nr_cpus) {
		snprintf(reason, sizeof(reason), "cpu %d does not exist (nr_cpus=%d)", cpu, nr_cpus);
		skip_event_at(scenario, pname, reason, step);
		return NULL;
	}
	return prog;
}

static void run_line(struct bpf_object *obj, bool obj_ok, int nr_cpus, const char *scenario, const char *pname,
		     int cpu, int repeat)
{
	if (attached_scenario && strcmp(attached_scenario, scenario) != 0)
		detach_tracing();
	mark_scenario(scenario);
	struct bpf_program *prog = runnable(obj, obj_ok, nr_cpus, scenario, pname, cpu, -1);
	char reason[128];
	if (!prog)
		return;
	if (!pin_to_cpu(cpu)) {
		snprintf(reason, sizeof(reason), "cannot pin to cpu %d: %s", cpu, errno_name(errno));
		skip_event(scenario, pname, reason);
		return;
	}
	for (int iter = 0; iter < repeat; iter++) {
		__u32 retval = 0;
		long long ns = 0;
		int err = test_run_once(prog, scenario, cpu, &retval, &ns);
		run_event(obj, scenario, pname, cpu, iter, -1, err, retval, ns);
	}
}

/* One of the two runs of a `concurrent` line, in its own thread. */
struct concurrent_run {
	const char *pname;
	int cpu;
	struct bpf_program *prog;
	pthread_barrier_t *start;
	/* set by the thread: whether it could pin itself, and the run's result */
	int pin_err, err;
	__u32 retval;
	long long ns;
};

static void *concurrent_thread(void *arg)
{
	struct concurrent_run *r = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	r->pin_err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_barrier_wait(r->start);
	if (!r->pin_err)
		r->err = test_run_raw(r->prog, &r->retval, &r->ns);
	return NULL;
}

/* A schedule's `concurrent` step (plan line `concurrent <scenario> <step> <prog> <cpu> <prog> <cpu>`): the two
 * BPF_PROG_TEST_RUNs start together, each from a thread pinned to its CPU and released by one barrier. The globals
 * are read once both have ended, and both runs are reported with the step. A run that cannot run is skipped and
 * the other runs alone. Only tc and syscall programs (checkScenarioRefs): no attach is involved. */
static void concurrent_line(struct bpf_object *obj, bool obj_ok, int nr_cpus, const char *scenario, int step,
			    struct concurrent_run *runs)
{
	if (attached_scenario && strcmp(attached_scenario, scenario) != 0)
		detach_tracing();
	mark_scenario(scenario);
	int n = 0;
	struct concurrent_run *go[2];
	for (int i = 0; i < 2; i++) {
		runs[i].prog = runnable(obj, obj_ok, nr_cpus, scenario, runs[i].pname, runs[i].cpu, step);
		if (runs[i].prog)
			go[n++] = &runs[i];
	}
	if (n == 0)
		return;
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, n);
	pthread_t threads[2];
	kmsg_mark_logged(NULL, NULL);
	for (int i = 0; i < n; i++) {
		go[i]->start = &start;
		if (pthread_create(&threads[i], NULL, concurrent_thread, go[i]) != 0)
			die("pthread_create: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);
	kmsg_mark_logged(scenario, go[0]->pname);
	char reason[128];
	for (int i = 0; i < n; i++) {
		struct concurrent_run *r = go[i];
		if (r->pin_err) {
			snprintf(reason, sizeof(reason), "cannot pin to cpu %d: %s", r->cpu, errno_name(r->pin_err));
			skip_event_at(scenario, r->pname, reason, step);
		} else {
			run_event(obj, scenario, r->pname, r->cpu, 0, step, r->err, r->retval, r->ns);
		}
	}
}

/* `,"err":` and the errno name, or null for 0. */
static void json_err(int err)
{
	fputs(",\"err\":", out);
	if (err)
		json_str(errno_name(err));
	else
		fputs("null", out);
}

/* The event of a step the harness does itself (grace_period, free_maps): 0 or the errno name, and how long it took. */
static void step_event(const char *ev, const char *scenario, int err, long long t0)
{
	fprintf(out, "{\"ev\":\"%s\",\"scenario\":", ev);
	json_str(scenario);
	json_err(err);
	fprintf(out, ",\"ns\":%lld", now_ns() - t0);
	ev_end();
}

/* A schedule's grace period, waited for from userspace. bpf_percpu_obj_drop / bpf_obj_drop free through
 * bpf_mem_free_rcu: the object waits on its CPU's free_by_rcu list for a regular RCU grace period, whose
 * callback (__free_by_rcu) moves it to free_by_rcu_ttrace, where the next refill of that CPU's cache
 * (alloc_bulk) takes it back, bytes kept, until an RCU tasks trace grace period returns it to the slab.
 * membarrier(MEMBARRIER_CMD_GLOBAL) is synchronize_rcu(). That returns when the grace period has ended, and
 * on kernels that wake it from the grace-period kthread (rcu_normal_wake_from_gp) possibly before the CPU
 * that queued __free_by_rcu has invoked it; that CPU invokes its ready callbacks at its next tick, and a
 * second grace period takes more than a tick. Two in a row, then: what is dropped before is reusable after. */
static void grace_period_line(const char *scenario)
{
	if (attached_scenario && strcmp(attached_scenario, scenario) != 0)
		detach_tracing();
	mark_scenario(scenario);
	long long t0 = now_ns();
	int err = 0;
	for (int i = 0; i < 2 && !err; i++)
		if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0)
			err = errno;
	step_event("grace_period", scenario, err, t0);
}

/* A schedule's `owner_exit` step: the owner of the scenario's local storage goes away (owner_end). The kernel frees
 * the task's storage when its task_struct goes and the cgroup's when the cgroup is freed, each from RCU callbacks
 * or a workqueue; nothing here waits for that. An owner that never ran has nothing to end. */
static void owner_exit_line(const char *scenario, bool keep)
{
	mark_scenario(scenario);
	long long t0 = now_ns();
	struct owner *o = find_owner(scenario);
	int err = !o ? ENOENT : keep ? owner_retire(o) : owner_end(o);
	step_event("owner_exit", scenario, err, t0);
}

/* A schedule's `free_maps` step (plan line `free_maps <scenario> <map>...`): the scenario's maps are freed with
 * live objects in them. The map is freed when its last reference goes: our fd and the scenario's programs (each
 * holds its maps in used_maps). So the scenario's tracing link is destroyed and the fds of its programs and of its
 * slot maps are closed. dup2 of /dev/null closes them and keeps the numbers libbpf closes again at
 * bpf_object__close. The kernel then frees the maps from a workqueue after the programs' RCU grace period, and
 * each element's kptr field releases its object (bpf_obj_free_fields); nothing here waits for that. */
static void free_maps_line(struct bpf_object *obj, bool obj_ok, const char *scenario, char **maps, int nmaps)
{
	detach_tracing();
	mark_scenario(scenario);
	long long t0 = now_ns();
	int err = 0, null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		err = errno;
	struct bpf_program *p;
	if (obj_ok && !err) {
		bpf_object__for_each_program(p, obj) {
			struct prog_entry *e = find_prog(bpf_program__name(p));
			int fd = bpf_program__fd(p);
			if (e && e->scenario && strcmp(e->scenario, scenario) == 0 && fd >= 0 && dup2(null_fd, fd) < 0)
				err = errno;
		}
		for (int i = 0; i < nmaps; i++) {
			struct bpf_map *m = bpf_object__find_map_by_name(obj, maps[i]);
			int fd = m ? bpf_map__fd(m) : -1;
			if (fd < 0)
				err = ENOENT;
			else if (dup2(null_fd, fd) < 0)
				err = errno;
		}
	}
	if (null_fd >= 0)
		close(null_fd);
	if (!obj_ok) {
		skip_event(scenario, "(free_maps)", "the object failed to load");
		return;
	}
	step_event("free_maps", scenario, err, t0);
}

/* One userspace map operation (plan line `mapop`) on the map named `mapname`: bpf_map_update_elem (value: `sum`
 * in the first 8 bytes of every CPU's copy, zero elsewhere), bpf_map_delete_elem, bpf_map_lookup_elem_flags or
 * bpf_map_lookup_and_delete_elem with the key `what`; or a batch form: bpf_map_update_batch / bpf_map_delete_batch
 * with the keys `what` ("0,1", "-" for none; elem_flags `flags`), bpf_map_lookup_batch /
 * bpf_map_lookup_and_delete_batch from the map's start with room for `what` elements. `flags` (BPF_F_LOCK among
 * them) go to update and lookup, elem_flags to every batch form. Prints 0 or the errno name,
 * a batch's count as libbpf hands it back, and for a lookup that copied something the keys (batch) and the value's
 * 8-byte words per CPU copy (one copy for a map that is not per-CPU) as decimal strings. */
#define MAX_BATCH 8
static void mapop_line(struct bpf_object *obj, bool obj_ok, int nr_cpus, const char *scenario, int step,
		       const char *mapname, const char *op, const char *what, __u64 flags, __u64 sum)
{
	if (attached_scenario && strcmp(attached_scenario, scenario) != 0)
		detach_tracing();
	mark_scenario(scenario);
	struct bpf_map *map = obj_ok ? bpf_object__find_map_by_name(obj, mapname) : NULL;
	if (!map) {
		skip_event(scenario, "(userspace map operations)", obj_ok ? "map is not in the object" : "the object failed to load");
		return;
	}
	enum bpf_map_type t = bpf_map__type(map);
	bool percpu = t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	size_t stride = (bpf_map__value_size(map) + 7) & ~(size_t)7;
	int copies = percpu ? nr_cpus : 1;
	__u64 *value = calloc((size_t)copies * MAX_BATCH, stride);
	if (!value)
		die("out of memory");
	int fd = bpf_map__fd(map), r, key = atoi(what), keys[MAX_BATCH] = { 0 };
	bool lookup = false, batch = strstr(op, "_batch") != NULL;
	__u32 count = 0, out_batch = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
	if (batch && strncmp(op, "lookup", 6) != 0) {
		for (const char *p = what; *p && *p != '-'; p = strchr(p, ',') ? strchr(p, ',') + 1 : "") {
			if (count == MAX_BATCH)
				die("more than %d keys in a batch", MAX_BATCH);
			keys[count++] = atoi(p);
		}
	} else if (batch) {
		count = (__u32)key;
		if (count > MAX_BATCH)
			die("a batch lookup of more than %d elements", MAX_BATCH);
	}
	if (strcmp(op, "update") == 0 || strcmp(op, "update_batch") == 0) {
		for (int c = 0; c < copies * MAX_BATCH; c++)
			value[c * stride / 8] = sum;
		r = batch ? bpf_map_update_batch(fd, keys, value, &count, &opts) : bpf_map_update_elem(fd, &key, value, flags);
	} else if (strcmp(op, "delete") == 0) {
		r = bpf_map_delete_elem(fd, &key);
	} else if (strcmp(op, "delete_batch") == 0) {
		r = bpf_map_delete_batch(fd, keys, &count, &opts);
	} else if (strcmp(op, "lookup") == 0) {
		r = bpf_map_lookup_elem_flags(fd, &key, value, flags);
		lookup = true;
	} else if (strcmp(op, "lookup_and_delete") == 0) {
		r = bpf_map_lookup_and_delete_elem_flags(fd, &key, value, flags);
		lookup = true;
	} else if (strcmp(op, "lookup_batch") == 0) {
		r = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, value, &count, &opts);
		lookup = true;
	} else if (strcmp(op, "lookup_and_delete_batch") == 0) {
		r = bpf_map_lookup_and_delete_batch(fd, NULL, &out_batch, keys, value, &count, &opts);
		lookup = true;
	} else {
		die("unknown map operation %s", op);
	}
	int err = r < 0 ? -r : 0;
	fputs("{\"ev\":\"mapop\",\"scenario\":", out);
	json_str(scenario);
	fprintf(out, ",\"step\":%d,\"op\":", step);
	json_str(op);
	json_err(err);
	if (batch)
		fprintf(out, ",\"count\":%u", count);
	/* a batch lookup that ends (ENOENT) still returns what it copied; one that failed before copies nothing */
	int rows = !lookup ? 0 : !batch ? (err ? 0 : copies) : (err && err != ENOENT) || count > MAX_BATCH ? 0 : (int)count * copies;
	if (batch && rows) {
		fputs(",\"keys\":[", out);
		for (__u32 i = 0; i < count; i++)
			fprintf(out, "%s%d", i ? "," : "", keys[i]);
		fputc(']', out);
	}
	fputs(",\"value\":", out);
	if (rows) {
		fputc('[', out);
		for (int c = 0; c < rows; c++) {
			fputs(c ? ",[" : "[", out);
			for (size_t w = 0; w < stride / 8; w++)
				fprintf(out, "%s\"%llu\"", w ? "," : "", (unsigned long long)value[c * stride / 8 + w]);
			fputc(']', out);
		}
		fputc(']', out);
	} else {
		fputs("null", out);
	}
	ev_end();
	free(value);
}

/* ---------- run command ---------- */

/* A `run` line; with `map` set a `mapop` line (`prog` is then the operation); with `free_maps` set a `free_maps`
 * line; with neither prog nor map a `grace_period` line. */
struct run_line {
	char *scenario, *prog;
	int cpu, repeat;
	char *map, *what;
	int step;
	__u64 flags, sum;
	/* a `free_maps` line: the maps to close (nfree may be 0) */
	bool free_maps;
	char **free;
	int nfree;
	/* a `concurrent` line: its two runs (`step` is the schedule step) */
	bool concurrent;
	struct concurrent_run both[2];
	/* an `owner_exit` line; `owner_exit <scenario> keep`: the owner is kept alive (testing only) */
	bool owner_exit, keep_owner;
};

static void set_nr_cpus(struct bpf_object *obj, int nr_cpus)
{
	struct var_loc loc = find_var(obj, "nr_cpus");
	if (!loc.found || loc.size != sizeof(__u32))
		return;
	size_t sz = 0;
	void *init = (void *)bpf_map__initial_value(loc.map, &sz);
	if (init && loc.offset + loc.size <= sz) {
		__u32 v = nr_cpus;
		memcpy((char *)init + loc.offset, &v, sizeof(v));
	}
}

/* Extern resolution per scenario. The generated C declares kfuncs __weak so that one scenario's missing kfunc
 * does not fail the whole batch object (libbpf leaves an unresolved weak call as imm 0, and the verifier's
 * message then depends on where the call sits). A scenario compiled alone with strong externs, as upstream
 * selftests are, fails in libbpf before any BPF_PROG_LOAD: that is what the harness reports for each scenario
 * whose kfuncs the kernel's BTF lacks, naming the first missing one, and its programs are not loaded. */
/* Whether vmlinux BTF has FUNC `name`, each distinct name looked up once: btf__find_by_name_kind walks every type,
 * and under TCG a walk per scenario and name cost more than a second per object. */
static bool kfunc_present(const struct btf *vmlinux, const char *name)
{
	static struct {
		const char *name;
		bool present;
	} seen[64];
	static int nseen;
	for (int i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			return seen[i].present;
	bool present = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
	if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
		seen[nseen++] = (typeof(seen[0])){ name, present };
	return present;
}

static void refuse_missing_kfuncs(struct bpf_object *obj)
{
	if (nksets == 0)
		return;
	struct btf *vmlinux = vmlinux_btf();
	if (!vmlinux)
		return; /* no kernel BTF at all: libbpf's own load reports it */
	for (int k = 0; k < nksets; k++) {
		const char *missing = NULL;
		for (int i = 0; i < ksets[k].count && !missing; i++)
			if (!kfunc_present(vmlinux, ksets[k].names[i]))
				missing = ksets[k].names[i];
		if (!missing)
			continue;
		char msg[256];
		snprintf(msg, sizeof(msg), "libbpf: extern (func ksym) '%s': not found in kernel or module BTFs\n", missing);
		for (int i = 0; i < nprogs; i++) {
			if (!progs[i].scenario || strcmp(progs[i].scenario, ksets[k].scenario) != 0)
				continue;
			bpf_program__set_autoload(bpf_object__find_program_by_name(obj, progs[i].name), false);
			progs[i].seen = true;
			progs[i].accepted = false;
			fputs("{\"ev\":\"load\",\"prog\":", out);
			json_str(progs[i].name);
			fputs(",\"verdict\":\"rejected\"", out);
			json_refusal("libbpf", EINVAL, msg);
			fputs(",\"ns\":0", out);
			ev_end();
		}
	}
}

static const char *object_stage(void)
{
	if (libbpf_msgs && (strstr(libbpf_msgs, "failed to create") || strstr(libbpf_msgs, "map '")))
		return "map_create";
	return "libbpf";
}

/* Opens and loads the object, reports its programs' verdicts and runs the plan's lines: one pass of the plan.
 * The object stays open (the caller closes it): the maps a `free_maps` line did not close keep their objects. */
/* whether the object run_plan last opened loaded */
static bool plan_obj_ok;

static void run_lines(struct bpf_object *obj, bool obj_ok, int nr_cpus, struct run_line *runs, int nruns);

static struct bpf_object *run_plan(const char *obj_path, struct run_line *runs, int nruns)
{
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj)
		die("cannot open object %s: %s", obj_path, strerror(errno));

	int nr_cpus = libbpf_num_possible_cpus();
	struct utsname u;
	uname(&u);
	fputs("{\"ev\":\"kernel\",\"release\":", out);
	json_str(u.release);
	fprintf(out, ",\"nr_cpus\":%d", nr_cpus);
	ev_end();

	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, find_prog(bpf_program__name(p)) != NULL);
	for (int i = 0; i < nprogs; i++)
		if (!bpf_object__find_program_by_name(obj, progs[i].name))
			die("program %s of the plan is not in %s", progs[i].name, obj_path);
	set_nr_cpus(obj, nr_cpus);
	refuse_missing_kfuncs(obj);

	free(libbpf_msgs);
	libbpf_msgs = NULL;
	libbpf_msgs_len = 0;
	int err = bpf_object__load(obj);
	mark_scenario(NULL);
	bool obj_ok = err == 0;
	if (!obj_ok) {
		int e = err < 0 ? -err : err;
		const char *stage = object_stage();
		const char *msgs = libbpf_msgs ? libbpf_msgs : "";
		fputs("{\"ev\":\"object\",\"ok\":false", out);
		json_refusal(stage, e, msgs);
		ev_end();
		for (int i = 0; i < nprogs; i++) {
			if (progs[i].seen)
				continue;
			progs[i].accepted = false;
			fputs("{\"ev\":\"load\",\"prog\":", out);
			json_str(progs[i].name);
			fputs(",\"verdict\":\"rejected\"", out);
			json_refusal(stage, e, msgs);
			fputs(",\"ns\":0", out);
			ev_end();
		}
	}
	plan_obj_ok = obj_ok;
	run_lines(obj, obj_ok, nr_cpus, runs, nruns);
	return obj;
}

/* The plan's lines on a loaded object, in file order. */
static void run_lines(struct bpf_object *obj, bool obj_ok, int nr_cpus, struct run_line *runs, int nruns)
{
	bool tracing_runs = false;
	for (int i = 0; i < nruns && obj_ok; i++) {
		if (runs[i].map || runs[i].free_maps || runs[i].concurrent || runs[i].owner_exit)
			continue;
		struct bpf_program *rp = runs[i].prog ? bpf_object__find_program_by_name(obj, runs[i].prog) : NULL;
		tracing_runs |= rp && is_tracing(bpf_program__type(rp));
	}
	if (tracing_runs)
		attach_anchor();
	for (int i = 0; i < nruns; i++) {
		if (runs[i].concurrent)
			concurrent_line(obj, obj_ok, nr_cpus, runs[i].scenario, runs[i].step, runs[i].both);
		else if (runs[i].free_maps)
			free_maps_line(obj, obj_ok, runs[i].scenario, runs[i].free, runs[i].nfree);
		else if (runs[i].owner_exit)
			owner_exit_line(runs[i].scenario, runs[i].keep_owner);
		else if (runs[i].map)
			mapop_line(obj, obj_ok, nr_cpus, runs[i].scenario, runs[i].step, runs[i].map, runs[i].prog,
				   runs[i].what, runs[i].flags, runs[i].sum);
		else if (!runs[i].prog)
			grace_period_line(runs[i].scenario);
		else
			run_line(obj, obj_ok, nr_cpus, runs[i].scenario, runs[i].prog, runs[i].cpu, runs[i].repeat);
	}
	detach_tracing();
	detach_anchor();
	mark_scenario(NULL);
}

/* Per-CPU memory in use (`Percpu:` of /proc/meminfo, kB: populated pages of the per-CPU allocator's chunks, all
 * units), or -1 when the kernel does not say. */
static long percpu_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Percpu: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* After the last reference goes, a map is freed from a workqueue behind its programs' RCU grace period, its objects
 * behind another (bpf_mem_free_rcu), the allocator's caches drain behind RCU tasks trace: give the kernel grace
 * periods until `Percpu:` holds still for three samples 200 ms apart, at most 5 s. */
static long settled_percpu_kb(void)
{
	long last = -2, kb = -1;
	for (int still = 0, i = 0; still < 3 && i < 25; i++) {
		syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
		usleep(200000);
		kb = percpu_kb();
		still = kb == last ? still + 1 : 0;
		last = kb;
	}
	return kb;
}

/* The memory oracle's measurement (`--memory N`): after the reported pass, the plan runs N more times, each on a
 * fresh copy of the object that stays open to the end, so only what `free_maps` lines free (and what the kernel
 * frees by itself) can go back. `Percpu:` is sampled settled before the first and after the last pass, and after
 * each pass unsettled. One pass's objects are too small for the allocator's page granularity; N passes are not. */
static void memory_passes(const char *obj_path, struct run_line *runs, int nruns, int n)
{
	FILE *report = out;
	struct bpf_object **objs = calloc((size_t)n, sizeof(*objs));
	long *kb = calloc((size_t)n, sizeof(*kb));
	if (!objs || !kb || !(out = fopen("/dev/null", "w")))
		die("memory passes: %s", strerror(errno));
	/* A plan without free_maps lines frees nothing of a fresh object's maps, whose own per-CPU memory (the
	 * bpf_mem_alloc caches of a local storage map) would then grow Percpu: a pass: such a plan runs its passes on one
	 * object, settled between passes, so that only what its lines leave held accumulates (an owner_exit that frees
	 * nothing: a new owner's element and object every pass). */
	bool reuse = true;
	for (int i = 0; i < nruns; i++)
		reuse &= !runs[i].free_maps;
	long before = settled_percpu_kb();
	for (int i = 0; i < n; i++) {
		/* what the last pass freed comes back to the allocator behind grace periods (an owner's storage behind
		 * RCU tasks trace: bpf_selem_free) before this pass allocates again, as a pass with fresh maps needs not */
		if (reuse && i > 0)
			settled_percpu_kb();
		if (reuse && i > 0)
			run_lines(objs[0], plan_obj_ok, libbpf_num_possible_cpus(), runs, nruns);
		else
			objs[i] = run_plan(obj_path, runs, nruns);
		kb[i] = percpu_kb();
	}
	long after = settled_percpu_kb();
	fclose(out);
	out = report;
	fprintf(out, "{\"ev\":\"memory\",\"iterations\":%d,\"percpu_kb_before\":%ld,\"percpu_kb_after\":%ld,\"percpu_kb\":[", n, before, after);
	for (int i = 0; i < n; i++)
		fprintf(out, "%s%ld", i ? "," : "", kb[i]);
	fputc(']', out);
	ev_end();
	for (int i = 0; i < n; i++)
		if (objs[i])
			bpf_object__close(objs[i]);
	free(objs);
	free(kb);
}

static int cmd_run(int argc, char **argv)
{
	const char *obj_path = NULL, *plan_path = NULL, *out_path = NULL;
	bool markers = false;
	int memory = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out_path = argv[++i];
		else if (strcmp(argv[i], "--kmsg-markers") == 0)
			markers = true;
		else if (strcmp(argv[i], "--kmsg-watch") == 0)
			kmsg_watch_open();
		else if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc)
			memory = atoi(argv[++i]);
		else if (argv[i][0] == '-')
			die("unknown option %s", argv[i]);
		else if (!obj_path)
			obj_path = argv[i];
		else if (!plan_path)
			plan_path = argv[i];
		else
			die("unexpected argument %s", argv[i]);
	}
	if (!obj_path || !plan_path)
		die("usage: harness run OBJECT.o PLAN [--out FILE] [--kmsg-markers] [--kmsg-watch] [--memory N]");

	FILE *pf = fopen(plan_path, "r");
	if (!pf)
		die("cannot read plan %s: %s", plan_path, strerror(errno));
	struct run_line *runs = NULL;
	int nruns = 0;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	while (getline(&line, &cap, pf) > 0) {
		lineno++;
		int nw;
		char **w = split_words(line, &nw);
		if (nw == 0)
			continue;
		if (strcmp(w[0], "prog") == 0 && (nw == 2 || nw == 3 || (nw == 4 && strcmp(w[3], "log") == 0))) {
			if (nprogs == MAX_PROGS)
				die("plan has more than %d programs", MAX_PROGS);
			progs[nprogs++] = (struct prog_entry){ .name = w[1], .scenario = nw >= 3 ? w[2] : NULL, .log_first = nw == 4 };
		} else if (strcmp(w[0], "globals") == 0 && nw >= 2) {
			if (ngsets == MAX_GLOBAL_SETS)
				die("plan has more than %d globals lines", MAX_GLOBAL_SETS);
			gsets[ngsets++] = (struct global_set){ .scenario = w[1], .count = nw - 2, .names = w + 2 };
		} else if (strcmp(w[0], "kfuncs") == 0 && nw >= 3) {
			if (nksets == MAX_GLOBAL_SETS)
				die("plan has more than %d kfuncs lines", MAX_GLOBAL_SETS);
			ksets[nksets++] = (struct kfunc_set){ .scenario = w[1], .count = nw - 2, .names = w + 2 };
		} else if (strcmp(w[0], "run") == 0 && nw == 5) {
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run_line){ w[1], w[2], atoi(w[3]), atoi(w[4]), NULL, NULL, 0, 0, 0 };
		} else if (strcmp(w[0], "mapop") == 0 && nw == 8) {
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run_line){ .scenario = w[1], .step = atoi(w[2]), .map = w[3], .prog = w[4],
							   .what = w[5], .flags = strtoull(w[6], NULL, 10),
							   .sum = strtoull(w[7], NULL, 10) };
		} else if (strcmp(w[0], "free_maps") == 0 && nw >= 2) {
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run_line){ .scenario = w[1], .free_maps = true, .free = w + 2, .nfree = nw - 2 };
		} else if (strcmp(w[0], "concurrent") == 0 && nw == 7) {
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run_line){ .scenario = w[1], .step = atoi(w[2]), .concurrent = true,
							   .both = { { .pname = w[3], .cpu = atoi(w[4]) },
								     { .pname = w[5], .cpu = atoi(w[6]) } } };
		} else if (strcmp(w[0], "owner") == 0 && nw == 3 && (strcmp(w[2], "process") == 0 || strcmp(w[2], "cgroup") == 0)) {
			if (nowners == MAX_OWNERS)
				die("plan has more than %d owner lines", MAX_OWNERS);
			owners[nowners++] = (struct owner){ .scenario = w[1], .cgroup = strcmp(w[2], "cgroup") == 0 };
		} else if (strcmp(w[0], "owner_exit") == 0 && (nw == 2 || (nw == 3 && strcmp(w[2], "keep") == 0))) {
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run_line){ .scenario = w[1], .owner_exit = true, .keep_owner = nw == 3 };
		} else if (strcmp(w[0], "grace_period") == 0 && nw == 2) {
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run_line){ .scenario = w[1] };
		} else {
			die("%s:%d: bad plan line: %s", plan_path, lineno, w[0]);
		}
	}
	fclose(pf);

	out = stdout;
	if (out_path && !(out = fopen(out_path, "w")))
		die("cannot write %s: %s", out_path, strerror(errno));
	if (markers && (kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)) < 0)
		die("cannot open /dev/kmsg for markers: %s", strerror(errno));

	libbpf_set_print(on_libbpf_print);
	struct bpf_object *obj = run_plan(obj_path, runs, nruns);
	bpf_object__close(obj);
	if (memory > 0)
		memory_passes(obj_path, runs, nruns, memory);
	/* an owner lives until its owner_exit line or here: what a scenario that never ends its owner stores stays held
	 * through the memory passes (the objects of each pass stay open), as a kernel that keeps a dead owner's would */
	end_owners();
	fputs("{\"ev\":\"done\"", out);
	ev_end();
	if (out != stdout && fclose(out) != 0)
		die("writing results: %s", strerror(errno));
	return 0;
}

/* ---------- probe command ---------- */

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* Load (and for tracing attach) a trivial program of the type, then test-run it. NULL when it works,
 * else the step that failed and the kernel's errno name. */
static const char *probe_type(enum bpf_prog_type t, bool sleepable, __u32 fentry_btf_id, char *reason, size_t len)
{
	const struct bpf_insn trivial[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	if (sleepable)
		o.prog_flags = BPF_F_SLEEPABLE;
	if (t == BPF_PROG_TYPE_TRACING) {
		if (!fentry_btf_id) {
			snprintf(reason, len, "bpf_fentry_test1 not found in vmlinux BTF");
			return reason;
		}
		o.expected_attach_type = BPF_TRACE_FENTRY;
		o.attach_btf_id = fentry_btf_id;
	}
	int fd = bpf_prog_load(t, "kptr_probe", "GPL", trivial, 2, &o);
	if (fd < 0) {
		snprintf(reason, len, "load: %s", errno_name(errno));
		return reason;
	}
	int link = -1;
	if (t == BPF_PROG_TYPE_TRACING && (link = bpf_link_create(fd, 0, BPF_TRACE_FENTRY, NULL)) < 0) {
		snprintf(reason, len, "attach: %s", errno_name(errno));
		close(fd);
		return reason;
	}
	unsigned char data[PAD_SIZE] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, r);
	if (t == BPF_PROG_TYPE_SCHED_CLS) {
		r.data_in = data;
		r.data_size_in = sizeof(data);
	}
	const char *res = NULL;
	if (bpf_prog_test_run_opts(fd, &r)) {
		snprintf(reason, len, "test_run: %s", errno_name(errno));
		res = reason;
	}
	if (link >= 0)
		close(link);
	close(fd);
	return res;
}

static int cmd_probe(void)
{
	out = stdout;
	libbpf_set_print(on_libbpf_print);
	struct utsname u;
	uname(&u);
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct caps[2] = { 0 };
	if (syscall(SYS_capget, &hdr, caps))
		die("capget: %s", strerror(errno));

	__u32 fentry_id = 0;
	struct btf *vmlinux = vmlinux_btf();
	if (vmlinux) {
		int id = btf__find_by_name_kind(vmlinux, "bpf_fentry_test1", BTF_KIND_FUNC);
		fentry_id = id > 0 ? (__u32)id : 0;
	}

	fputs("{\"release\":", out);
	json_str(u.release);
	fprintf(out, ",\"nr_cpus\":%d,\"caps\":{\"bpf\":%s,\"perfmon\":%s,\"sys_admin\":%s},\"prog_types\":{",
		libbpf_num_possible_cpus(), has_cap(caps, CAP_BPF) ? "true" : "false",
		has_cap(caps, CAP_PERFMON) ? "true" : "false", has_cap(caps, CAP_SYS_ADMIN) ? "true" : "false");
	static const struct {
		const char *name;
		enum bpf_prog_type type;
		bool sleepable;
	} kinds[] = {
		{ "tc", BPF_PROG_TYPE_SCHED_CLS, false },
		{ "syscall", BPF_PROG_TYPE_SYSCALL, true },
		{ "fentry", BPF_PROG_TYPE_TRACING, false },
		{ "fentry.s", BPF_PROG_TYPE_TRACING, true },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char reason[128];
		const char *why = probe_type(kinds[i].type, kinds[i].sleepable, fentry_id, reason, sizeof(reason));
		if (i)
			fputc(',', out);
		json_str(kinds[i].name);
		fprintf(out, ":{\"ok\":%s,\"reason\":", why ? "false" : "true");
		if (why)
			json_str(why);
		else
			fputs("null", out);
		fputc('}', out);
	}
	fputs("}", out);
	ev_end();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "probe") == 0 && argc == 2)
		return cmd_probe();
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	die("usage: harness probe | harness run OBJECT.o PLAN [--out FILE] [--kmsg-markers] [--kmsg-watch]");
}

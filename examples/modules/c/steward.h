/*
 * steward.h: a tiny C SDK for steward modules (module ABI 1,
 * docs/MODULES.md). No libc: build with
 *
 *   clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wl,--no-entry ...
 *
 * The header defines the ABI's exports (memory comes from the linker;
 * alloc, dealloc, init, handle_call, handle_cast, handle_info, terminate,
 * code_change, state_export, state_import) and forwards each callback to
 * a function the module defines:
 *
 *   steward_status on_init(steward_bytes args);
 *   uint64_t       on_call(steward_bytes body);   // steward_reply(...) or steward_result(status)
 *   steward_status on_cast(steward_bytes body);
 *   steward_status on_info(uint32_t kind, steward_bytes body);
 *   void           on_terminate(steward_bytes reason);
 *   steward_status on_code_change(steward_bytes vsn, uint32_t direction,
 *                                 steward_bytes extra, steward_bytes state);
 *   uint64_t       on_state_export(void);         // steward_reply(...) or steward_result(status)
 *   steward_status on_state_import(steward_bytes state);
 *
 * so a module is the callbacks and nothing else. Include it in exactly one
 * translation unit (it defines functions). Inputs are valid only until the
 * callback returns (the host reuses its buffer); a reply must stay valid
 * until the callback returns (the host copies it then).
 *
 * The host functions (module "steward") are declared below; the linker
 * imports only those a module calls, and each must be listed in the
 * manifest's host_functions.
 */
#ifndef STEWARD_H
#define STEWARD_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t steward_status;

/* Callback statuses. */
#define STEWARD_OK 0     /* carry on */
#define STEWARD_REFUSE 1 /* refuse the call, drop the message */
#define STEWARD_STOP 2   /* stop with reason normal */

/* Host statuses. */
#define STEWARD_HOST_OK 0
#define STEWARD_HOST_BAD_ARGUMENT 1
#define STEWARD_HOST_NOT_FOUND 2
#define STEWARD_HOST_UNAVAILABLE 3
#define STEWARD_HOST_REFUSED 4
#define STEWARD_HOST_TIMEOUT 5
#define STEWARD_HOST_FULL 6
#define STEWARD_HOST_FAILED 7

/* handle_info kinds. */
#define STEWARD_KIND_PLAIN 0
#define STEWARD_KIND_EXIT 3
#define STEWARD_KIND_DOWN 4

/* code_change directions. */
#define STEWARD_UP 0
#define STEWARD_DOWN 1

/* A byte range in the module's memory. */
typedef struct {
	const uint8_t *ptr;
	uint32_t len;
} steward_bytes;

#define STEWARD_LIT(s) ((steward_bytes){(const uint8_t *)(s), sizeof(s) - 1})

/* ---- packed i64 results: a buffer (ptr << 32 | len) or a status ---- */

static inline uint64_t steward_reply(const void *ptr, uint32_t len) {
	return (uint64_t)(uintptr_t)ptr << 32 | len;
}
static inline uint64_t steward_result(steward_status s) { return 0xFFFFFFFF00000000ull | s; }
static inline int steward_is_status(uint64_t r) { return (r >> 32) == 0xFFFFFFFFu; }
static inline steward_status steward_status_of(uint64_t r) { return (steward_status)r; }
static inline steward_bytes steward_bytes_of(uint64_t r) {
	return (steward_bytes){(const uint8_t *)(uintptr_t)(r >> 32), (uint32_t)r};
}

/* ---- host functions ---- */

#define STEWARD_IMPORT(name) __attribute__((import_module("steward"), import_name(#name)))

STEWARD_IMPORT(send) steward_status steward_send_(const uint8_t *pid, uint32_t pid_len, const uint8_t *body, uint32_t body_len);
STEWARD_IMPORT(cast) steward_status steward_cast_(const uint8_t *pid, uint32_t pid_len, const uint8_t *body, uint32_t body_len);
STEWARD_IMPORT(call) uint64_t steward_call_(const uint8_t *pid, uint32_t pid_len, const uint8_t *body, uint32_t body_len, uint32_t timeout_ms);
STEWARD_IMPORT(self) uint64_t steward_self(void);
STEWARD_IMPORT(from) uint64_t steward_from(void);
STEWARD_IMPORT(log) void steward_log_(uint32_t level, const uint8_t *msg, uint32_t len);
STEWARD_IMPORT(now) int64_t steward_now(void);
STEWARD_IMPORT(send_after) steward_status steward_send_after_(int64_t delay_ms, const uint8_t *body, uint32_t len);
STEWARD_IMPORT(whereis) uint64_t steward_whereis_(const uint8_t *name, uint32_t len);
STEWARD_IMPORT(link) steward_status steward_link_(const uint8_t *pid, uint32_t len);
STEWARD_IMPORT(unlink) steward_status steward_unlink_(const uint8_t *pid, uint32_t len);
STEWARD_IMPORT(monitor) uint64_t steward_monitor_(const uint8_t *pid, uint32_t len);
STEWARD_IMPORT(demonitor) void steward_demonitor(int64_t ref);
STEWARD_IMPORT(trap_exit) void steward_trap_exit(uint32_t on);
STEWARD_IMPORT(register) steward_status steward_register_(const uint8_t *name, uint32_t len);
STEWARD_IMPORT(spawn) uint64_t steward_spawn_(const uint8_t *behavior, uint32_t behavior_len, const uint8_t *args, uint32_t args_len, uint32_t flags);
STEWARD_IMPORT(exit) steward_status steward_exit_(const uint8_t *pid, uint32_t pid_len, const uint8_t *reason, uint32_t reason_len);

/* The same taking steward_bytes. Results packed as above (a buffer valid
 * until the callback returns, or a status). */
static inline steward_status steward_send(steward_bytes pid, steward_bytes body) { return steward_send_(pid.ptr, pid.len, body.ptr, body.len); }
static inline steward_status steward_cast(steward_bytes pid, steward_bytes body) { return steward_cast_(pid.ptr, pid.len, body.ptr, body.len); }
static inline uint64_t steward_call(steward_bytes pid, steward_bytes body, uint32_t timeout_ms) { return steward_call_(pid.ptr, pid.len, body.ptr, body.len, timeout_ms); }
static inline void steward_log(uint32_t level, steward_bytes msg) { steward_log_(level, msg.ptr, msg.len); }
static inline steward_status steward_send_after(int64_t delay_ms, steward_bytes body) { return steward_send_after_(delay_ms, body.ptr, body.len); }
static inline uint64_t steward_whereis(steward_bytes name) { return steward_whereis_(name.ptr, name.len); }
static inline steward_status steward_link(steward_bytes pid) { return steward_link_(pid.ptr, pid.len); }
static inline steward_status steward_unlink(steward_bytes pid) { return steward_unlink_(pid.ptr, pid.len); }
static inline uint64_t steward_monitor(steward_bytes pid) { return steward_monitor_(pid.ptr, pid.len); }
static inline steward_status steward_register(steward_bytes name) { return steward_register_(name.ptr, name.len); }
static inline uint64_t steward_spawn(steward_bytes behavior, steward_bytes args, uint32_t flags) { return steward_spawn_(behavior.ptr, behavior.len, args.ptr, args.len, flags); }
static inline steward_status steward_exit(steward_bytes pid, steward_bytes reason) { return steward_exit_(pid.ptr, pid.len, reason.ptr, reason.len); }

/* ---- small byte helpers (no libc) ---- */

static inline int steward_has_prefix(steward_bytes b, steward_bytes p) {
	if (b.len < p.len)
		return 0;
	for (uint32_t i = 0; i < p.len; i++)
		if (b.ptr[i] != p.ptr[i])
			return 0;
	return 1;
}
static inline int steward_equal(steward_bytes b, steward_bytes p) { return b.len == p.len && steward_has_prefix(b, p); }
static inline steward_bytes steward_slice(steward_bytes b, uint32_t from) {
	if (from > b.len)
		from = b.len;
	return (steward_bytes){b.ptr + from, b.len - from};
}
/* steward_append copies src to dst and returns the end. */
static inline uint8_t *steward_append(uint8_t *dst, steward_bytes src) {
	for (uint32_t i = 0; i < src.len; i++)
		*dst++ = src.ptr[i];
	return dst;
}
/* steward_decimal writes n in decimal at dst and returns the end. */
static inline uint8_t *steward_decimal(uint8_t *dst, uint64_t n) {
	uint32_t len = 0;
	uint64_t m = n;
	do {
		len++;
		m /= 10;
	} while (m);
	for (uint32_t i = len; i > 0; i--) {
		dst[i - 1] = (uint8_t)('0' + n % 10);
		n /= 10;
	}
	return dst + len;
}

/* ---- the callbacks the module defines ---- */

steward_status on_init(steward_bytes args);
uint64_t on_call(steward_bytes body);
steward_status on_cast(steward_bytes body);
steward_status on_info(uint32_t kind, steward_bytes body);
void on_terminate(steward_bytes reason);
steward_status on_code_change(steward_bytes vsn, uint32_t direction, steward_bytes extra, steward_bytes state);
uint64_t on_state_export(void);
steward_status on_state_import(steward_bytes state);

/* ---- the ABI's exports ---- */

#define STEWARD_EXPORT(name) __attribute__((export_name(#name)))

extern uint8_t __heap_base; /* the linker's end of data and stack */
static uintptr_t steward_heap_;

/* alloc: a bump allocator from __heap_base, growing memory when needed;
 * 0 when it cannot. */
STEWARD_EXPORT(alloc) void *steward_alloc_(uint32_t size) {
	if (!steward_heap_)
		steward_heap_ = ((uintptr_t)&__heap_base + 7) & ~(uintptr_t)7;
	uintptr_t p = steward_heap_, end = (p + size + 7) & ~(uintptr_t)7;
	if (end < p)
		return 0;
	uintptr_t have = __builtin_wasm_memory_size(0) * 65536;
	if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
		return 0;
	steward_heap_ = end;
	return (void *)p;
}

/* dealloc: the host frees its buffers last first, so popping the top of
 * the heap returns it to its base after every callback. */
STEWARD_EXPORT(dealloc) void steward_dealloc_(void *ptr, uint32_t size) {
	if (steward_heap_ == (((uintptr_t)ptr + size + 7) & ~(uintptr_t)7))
		steward_heap_ = (uintptr_t)ptr;
}

#define STEWARD_IN(p, n) ((steward_bytes){(const uint8_t *)(p), (n)})

STEWARD_EXPORT(init) steward_status steward_init_(const uint8_t *p, uint32_t n) { return on_init(STEWARD_IN(p, n)); }
STEWARD_EXPORT(handle_call) uint64_t steward_handle_call_(const uint8_t *p, uint32_t n) { return on_call(STEWARD_IN(p, n)); }
STEWARD_EXPORT(handle_cast) steward_status steward_handle_cast_(const uint8_t *p, uint32_t n) { return on_cast(STEWARD_IN(p, n)); }
STEWARD_EXPORT(handle_info) steward_status steward_handle_info_(uint32_t kind, const uint8_t *p, uint32_t n) { return on_info(kind, STEWARD_IN(p, n)); }
STEWARD_EXPORT(terminate) void steward_terminate_(const uint8_t *p, uint32_t n) { on_terminate(STEWARD_IN(p, n)); }
STEWARD_EXPORT(code_change) steward_status steward_code_change_(const uint8_t *vp, uint32_t vn, uint32_t dir, const uint8_t *ep, uint32_t en, const uint8_t *sp, uint32_t sn) {
	return on_code_change(STEWARD_IN(vp, vn), dir, STEWARD_IN(ep, en), STEWARD_IN(sp, sn));
}
STEWARD_EXPORT(state_export) uint64_t steward_state_export_(void) { return on_state_export(); }
STEWARD_EXPORT(state_import) steward_status steward_state_import_(const uint8_t *p, uint32_t n) { return on_state_import(STEWARD_IN(p, n)); }

#endif

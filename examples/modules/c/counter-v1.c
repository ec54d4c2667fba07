/*
 * Counter v1 in C: the same module as ../counter-v1.wat (steward module
 * ABI 1, docs/MODULES.md), written against steward.h. Built with
 * `make wasm`: clang --target=wasm32 and wasm-ld, then the manifest
 * (counter-v1.manifest.json) appended as the steward.manifest section.
 *
 * Args:   start (the first count, default 0).
 * Casts and plain messages: "inc N" adds N, anything else adds 1.
 * Calls:  "get" -> count, "inc [N]" -> new count, "reset" -> "0",
 *         "relay NAME BODY" casts BODY to the process registered as NAME,
 *         "ask NAME BODY" calls it and replies with its reply.
 * State:  {"count":N}
 */
#include "steward.h"

static int64_t count;
static uint8_t out[64]; /* replies and the exported state */

/* number: the first run of digits at or after offset *i of b: its value
 * (-1 when there is none); *i is left just past it. */
static int64_t number(steward_bytes b, uint32_t *i) {
	int64_t v = 0;
	int seen = 0;
	for (; *i < b.len; (*i)++) {
		uint32_t c = (uint32_t)b.ptr[*i] - '0';
		if (c < 10) {
			seen = 1;
			v = (int64_t)((uint64_t)v * 10 + c);
		} else if (seen) {
			break;
		}
	}
	return seen ? v : -1;
}

static int64_t first_number(steward_bytes b, uint32_t from) { return number(b, &from); }

static uint64_t reply_count(void) { return steward_reply(out, (uint32_t)(steward_decimal(out, (uint64_t)count) - out)); }

/* add: "inc N" adds N (refuse when N is not a number), any other body
 * adds 1. */
static steward_status add(steward_bytes b) {
	if (steward_has_prefix(b, STEWARD_LIT("inc")) && b.len > 3) {
		int64_t v = first_number(b, 3);
		if (v < 0)
			return STEWARD_REFUSE;
		count += v;
		return STEWARD_OK;
	}
	count++;
	return STEWARD_OK;
}

/* target: resolves the NAME of "VERB NAME BODY" (VERB's length is skip);
 * the packed PID (or a status), and BODY in *body. */
static uint64_t target(steward_bytes b, uint32_t skip, steward_bytes *body) {
	uint32_t i = skip;
	while (i < b.len && b.ptr[i] != ' ')
		i++;
	*body = steward_slice(b, i + 1);
	return steward_whereis((steward_bytes){b.ptr + skip, i - skip});
}

steward_status on_init(steward_bytes args) {
	int64_t v = first_number(args, 0);
	if (v >= 0)
		count = v;
	return STEWARD_OK;
}

uint64_t on_call(steward_bytes b) {
	steward_bytes body;
	if (steward_equal(b, STEWARD_LIT("get")))
		return reply_count();
	if (steward_has_prefix(b, STEWARD_LIT("inc"))) {
		if (add(b))
			return steward_result(STEWARD_REFUSE);
		return reply_count();
	}
	if (steward_equal(b, STEWARD_LIT("reset"))) {
		count = 0;
		return reply_count();
	}
	if (steward_has_prefix(b, STEWARD_LIT("relay "))) {
		uint64_t pid = target(b, 6, &body);
		if (steward_is_status(pid) || steward_cast(steward_bytes_of(pid), body))
			return steward_result(STEWARD_REFUSE);
		return steward_reply("ok", 2);
	}
	if (steward_has_prefix(b, STEWARD_LIT("ask "))) {
		uint64_t pid = target(b, 4, &body);
		if (steward_is_status(pid))
			return steward_result(STEWARD_REFUSE);
		uint64_t r = steward_call(steward_bytes_of(pid), body, 0);
		if (steward_is_status(r))
			return steward_result(STEWARD_REFUSE);
		/* the host's buffer is valid until this callback returns, and the
		 * host copies the reply before it frees it. */
		return r;
	}
	return steward_result(STEWARD_REFUSE); /* unknown call */
}

steward_status on_cast(steward_bytes b) { return add(b); }

/* plain messages count like casts; EXIT and DOWN are ignored. */
steward_status on_info(uint32_t kind, steward_bytes b) {
	if (kind != STEWARD_KIND_PLAIN)
		return STEWARD_OK;
	return add(b);
}

void on_terminate(steward_bytes reason) { (void)reason; }

/* code_change up from any version: the count is the first number of the
 * old state ({"count":N}, or {"count":N,"messages":M}). v1 is the first
 * version: never down. */
steward_status on_code_change(steward_bytes vsn, uint32_t direction, steward_bytes extra, steward_bytes state) {
	(void)vsn;
	(void)extra;
	if (direction != STEWARD_UP)
		return 3;
	return on_state_import(state);
}

uint64_t on_state_export(void) {
	uint8_t *p = steward_append(out, STEWARD_LIT("{\"count\":"));
	p = steward_decimal(p, (uint64_t)count);
	*p++ = '}';
	return steward_reply(out, (uint32_t)(p - out));
}

steward_status on_state_import(steward_bytes state) {
	int64_t v = first_number(state, 0);
	if (v < 0)
		return STEWARD_REFUSE;
	count = v;
	return STEWARD_OK;
}

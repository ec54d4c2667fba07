/*
 * Counter v2 in C: the same module as ../counter-v2.wat. Counter v1 plus
 * a field, "messages" (how many messages it handled), added by
 * code_change on the way up and dropped on the way down (v2 supports
 * downgrade: its code_change knows both formats). Built with `make wasm`
 * like v1, with counter-v2.manifest.json.
 *
 * Args:   start (the first count, default 0).
 * Casts and plain messages: "inc N" adds N, anything else adds 1.
 * Calls:  "get" -> count, "inc [N]" -> new count, "reset" -> "0",
 *         "relay NAME BODY" casts BODY to the process registered as NAME,
 *         "ask NAME BODY" calls it and replies with its reply,
 *         "messages" -> messages handled.
 * State:  {"count":N,"messages":M}
 */
#include "steward.h"

static int64_t count, messages;
static int v1format; /* set by code_change down: state_export writes v1's format */
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

static uint64_t reply_number(int64_t n) { return steward_reply(out, (uint32_t)(steward_decimal(out, (uint64_t)n) - out)); }

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
	messages++;
	if (steward_equal(b, STEWARD_LIT("messages")))
		return reply_number(messages);
	if (steward_equal(b, STEWARD_LIT("get")))
		return reply_number(count);
	if (steward_has_prefix(b, STEWARD_LIT("inc"))) {
		if (add(b))
			return steward_result(STEWARD_REFUSE);
		return reply_number(count);
	}
	if (steward_equal(b, STEWARD_LIT("reset"))) {
		count = 0;
		return reply_number(count);
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
		return r;
	}
	return steward_result(STEWARD_REFUSE); /* unknown call */
}

steward_status on_cast(steward_bytes b) {
	messages++;
	return add(b);
}

/* plain messages count like casts; EXIT and DOWN are ignored. */
steward_status on_info(uint32_t kind, steward_bytes b) {
	if (kind != STEWARD_KIND_PLAIN)
		return STEWARD_OK;
	messages++;
	return add(b);
}

void on_terminate(steward_bytes reason) { (void)reason; }

/* code_change up (from v1's {"count":N}, or a v2 or native counter's
 * {"count":N,"messages":M}): the count is the first number, messages the
 * second (0 when absent). Down (to v1): the state is this version's, and
 * state_export will write v1's format. */
steward_status on_code_change(steward_bytes vsn, uint32_t direction, steward_bytes extra, steward_bytes state) {
	(void)vsn;
	(void)extra;
	if (direction > STEWARD_DOWN)
		return 3;
	if (on_state_import(state))
		return STEWARD_REFUSE;
	v1format = direction == STEWARD_DOWN;
	return STEWARD_OK;
}

uint64_t on_state_export(void) {
	uint8_t *p = steward_append(out, STEWARD_LIT("{\"count\":"));
	p = steward_decimal(p, (uint64_t)count);
	if (!v1format) {
		p = steward_append(p, STEWARD_LIT(",\"messages\":"));
		p = steward_decimal(p, (uint64_t)messages);
	}
	*p++ = '}';
	return steward_reply(out, (uint32_t)(p - out));
}

/* state_import: count = the first number, messages = the second or 0;
 * refused when there is no count. */
steward_status on_state_import(steward_bytes state) {
	uint32_t next = 0;
	int64_t v = number(state, &next);
	if (v < 0)
		return STEWARD_REFUSE;
	int64_t m = number(state, &next);
	count = v;
	messages = m < 0 ? 0 : m;
	return STEWARD_OK;
}

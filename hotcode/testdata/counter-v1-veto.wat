;; counter v1 with a before_upgrade export that refuses any upgrade while
;; the count is 99 (status 1) and allows it otherwise: the fixture of the
;; before_upgrade tests. Built by `make wasm`.
(module
  (import "steward" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "steward" "cast" (func $cast (param i32 i32 i32 i32) (result i32)))
  (import "steward" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))

  (memory (export "memory") 1)

  ;; Layout: [0, 1024) unused (0 is never a buffer), [1024, 2048) the
  ;; output scratch, [2048, 4096) constants, [4096, ...) the heap.
  (global $out i32 (i32.const 1024))
  (global $heap (mut i32) (i32.const 4096))
  (global $count (mut i64) (i64.const 0))

  (data (i32.const 2048) "inc")
  (data (i32.const 2056) "get")
  (data (i32.const 2064) "reset")
  (data (i32.const 2072) "relay ")
  (data (i32.const 2080) "ask ")
  (data (i32.const 2088) "{\"count\":")
  (data (i32.const 2104) "ok")

  ;; ---- memory ----

  ;; alloc: bump allocator, growing memory when needed; 0 when it cannot.
  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (if (i32.lt_u (local.get $end) (local.get $p)) (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 65535)) (i32.const 16)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))

  ;; dealloc: the host frees its buffers last first, so popping the top of
  ;; the heap returns it to the base after every callback.
  (func (export "dealloc") (param $p i32) (param $size i32)
    (if (i32.eq (global.get $heap)
                (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
      (then (global.set $heap (local.get $p)))))

  ;; ---- helpers ----

  ;; prefix: does [p, p+n) start with [lit, lit+ln)?
  (func $prefix (param $p i32) (param $n i32) (param $lit i32) (param $ln i32) (result i32)
    (local $i i32)
    (if (i32.lt_u (local.get $n) (local.get $ln)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $ln)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $lit) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; is: is [p, p+n) exactly [lit, lit+ln)?
  (func $is (param $p i32) (param $n i32) (param $lit i32) (param $ln i32) (result i32)
    (i32.and (i32.eq (local.get $n) (local.get $ln))
             (call $prefix (local.get $p) (local.get $n) (local.get $lit) (local.get $ln))))

  ;; number: the first run of digits at or after offset i of [p, p+n):
  ;; its value (-1 when there is none) and the offset just past it.
  (func $number (param $p i32) (param $n i32) (param $i i32) (result i64 i32)
    (local $v i64) (local $c i32) (local $seen i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.sub (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 48)))
        (if (i32.lt_u (local.get $c) (i32.const 10))
          (then
            (local.set $seen (i32.const 1))
            (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $c)))))
          (else (br_if $done (local.get $seen))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (result i64 i32) (local.get $seen)
      (then (local.get $v) (local.get $i))
      (else (i64.const -1) (local.get $i))))

  ;; decimal: writes n (>= 0) at dst; returns the length.
  (func $decimal (param $dst i32) (param $n i64) (result i32)
    (local $len i32) (local $m i64) (local $i i32)
    (local.set $m (local.get $n))
    (loop $count
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $count (i64.ne (local.get $m) (i64.const 0))))
    (local.set $i (local.get $len))
    (loop $write
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i))
                  (i32.add (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10))) (i32.const 48)))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $write (i32.gt_u (local.get $i) (i32.const 0))))
    (local.get $len))

  ;; packed: ptr<<32 | len, the ABI's buffer result.
  (func $packed (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))

  ;; reply_count: the count in decimal, as a packed buffer.
  (func $reply_count (result i64)
    (call $packed (global.get $out) (call $decimal (global.get $out) (global.get $count))))

  ;; add: "inc N" adds N (status 1, refuse, when N is not a number), any
  ;; other body adds 1.
  (func $add (param $p i32) (param $n i32) (result i32)
    (local $v i64)
    (if (call $prefix (local.get $p) (local.get $n) (i32.const 2048) (i32.const 3))
      (then
        (if (i32.gt_u (local.get $n) (i32.const 3))
          (then
            (drop (call $number (local.get $p) (local.get $n) (i32.const 3)))
            (local.set $v)
            (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (i32.const 1))))
            (global.set $count (i64.add (global.get $count) (local.get $v)))
            (return (i32.const 0))))))
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i32.const 0))

  ;; target: resolves the NAME of "VERB NAME BODY" (VERB's length is
  ;; skip); returns the packed PID (or a status) and the BODY's offset.
  (func $target (param $p i32) (param $n i32) (param $skip i32) (result i64 i32)
    (local $i i32)
    (local.set $i (local.get $skip))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $done (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $whereis (i32.add (local.get $p) (local.get $skip)) (i32.sub (local.get $i) (local.get $skip)))
    (i32.add (local.get $i) (i32.const 1)))

  ;; ---- the ABI ----

  (func (export "init") (param $p i32) (param $n i32) (result i32)
    (local $v i64)
    (drop (call $number (local.get $p) (local.get $n) (i32.const 0)))
    (local.set $v)
    (if (i64.ge_s (local.get $v) (i64.const 0)) (then (global.set $count (local.get $v))))
    (i32.const 0))

  (func (export "handle_call") (param $p i32) (param $n i32) (result i64)
    (local $pid i64) (local $body i32) (local $r i64)
    (if (call $is (local.get $p) (local.get $n) (i32.const 2056) (i32.const 3))
      (then (return (call $reply_count))))
    (if (call $prefix (local.get $p) (local.get $n) (i32.const 2048) (i32.const 3))
      (then
        (if (call $add (local.get $p) (local.get $n))
          (then (return (i64.or (i64.const 0xffffffff00000000) (i64.const 1)))))
        (return (call $reply_count))))
    (if (call $is (local.get $p) (local.get $n) (i32.const 2064) (i32.const 5))
      (then
        (global.set $count (i64.const 0))
        (return (call $reply_count))))
    (if (call $prefix (local.get $p) (local.get $n) (i32.const 2072) (i32.const 6))
      (then
        (call $target (local.get $p) (local.get $n) (i32.const 6))
        (local.set $body)
        (local.set $pid)
        (if (i64.eq (i64.shr_u (local.get $pid) (i64.const 32)) (i64.const 0xffffffff))
          (then (return (i64.or (i64.const 0xffffffff00000000) (i64.const 1)))))
        (if (i32.gt_u (local.get $body) (local.get $n)) (then (local.set $body (local.get $n))))
        (if (call $cast
              (i32.wrap_i64 (i64.shr_u (local.get $pid) (i64.const 32))) (i32.wrap_i64 (local.get $pid))
              (i32.add (local.get $p) (local.get $body)) (i32.sub (local.get $n) (local.get $body)))
          (then (return (i64.or (i64.const 0xffffffff00000000) (i64.const 1)))))
        (return (call $packed (i32.const 2104) (i32.const 2)))))
    (if (call $prefix (local.get $p) (local.get $n) (i32.const 2080) (i32.const 4))
      (then
        (call $target (local.get $p) (local.get $n) (i32.const 4))
        (local.set $body)
        (local.set $pid)
        (if (i64.eq (i64.shr_u (local.get $pid) (i64.const 32)) (i64.const 0xffffffff))
          (then (return (i64.or (i64.const 0xffffffff00000000) (i64.const 1)))))
        (if (i32.gt_u (local.get $body) (local.get $n)) (then (local.set $body (local.get $n))))
        (local.set $r (call $call
              (i32.wrap_i64 (i64.shr_u (local.get $pid) (i64.const 32))) (i32.wrap_i64 (local.get $pid))
              (i32.add (local.get $p) (local.get $body)) (i32.sub (local.get $n) (local.get $body))
              (i32.const 0)))
        (if (i64.eq (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0xffffffff))
          (then (return (i64.or (i64.const 0xffffffff00000000) (i64.const 1)))))
        ;; the host's buffer is valid until this callback returns, and
        ;; the host copies the reply before it frees it.
        (return (local.get $r))))
    ;; unknown call: refuse
    (i64.or (i64.const 0xffffffff00000000) (i64.const 1)))

  (func (export "handle_cast") (param $p i32) (param $n i32) (result i32)
    (call $add (local.get $p) (local.get $n)))

  ;; plain messages count like casts; EXIT (3) and DOWN (4) are ignored.
  (func (export "handle_info") (param $kind i32) (param $p i32) (param $n i32) (result i32)
    (if (i32.ne (local.get $kind) (i32.const 0)) (then (return (i32.const 0))))
    (call $add (local.get $p) (local.get $n)))

  (func (export "terminate") (param $p i32) (param $n i32))

  ;; code_change up from any version: the count is the first number of
  ;; the old state ({"count":N}, or the native counter's
  ;; {"count":N,"messages":M}). v1 is the first version: never down.
  (func (export "code_change")
    (param $vp i32) (param $vn i32) (param $dir i32) (param $ep i32) (param $en i32) (param $sp i32) (param $sn i32)
    (result i32)
    (local $v i64)
    (if (i32.ne (local.get $dir) (i32.const 0)) (then (return (i32.const 3))))
    (drop (call $number (local.get $sp) (local.get $sn) (i32.const 0)))
    (local.set $v)
    (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (i32.const 1))))
    (global.set $count (local.get $v))
    (i32.const 0))

  (func (export "before_upgrade") (param $p i32) (param $n i32) (result i32)
    (if (i64.eq (global.get $count) (i64.const 99)) (then (return (i32.const 1))))
    (i32.const 0))

  (func (export "state_export") (result i64)
    (local $n i32)
    (memory.copy (global.get $out) (i32.const 2088) (i32.const 9))
    (local.set $n (i32.add (i32.const 9) (call $decimal (i32.add (global.get $out) (i32.const 9)) (global.get $count))))
    (i32.store8 (i32.add (global.get $out) (local.get $n)) (i32.const 125))
    (call $packed (global.get $out) (i32.add (local.get $n) (i32.const 1))))

  (func (export "state_import") (param $p i32) (param $n i32) (result i32)
    (local $v i64)
    (drop (call $number (local.get $p) (local.get $n) (i32.const 0)))
    (local.set $v)
    (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (i32.const 1))))
    (global.set $count (local.get $v))
    (i32.const 0))
)

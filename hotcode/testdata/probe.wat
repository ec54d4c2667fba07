;; probe: a test module calling every steward host function on demand.
;; handle_call's first byte picks the function, the rest is its argument:
;;   S self   F from   W whereis NAME   R register NAME   P spawn BEHAVIOR (linked)
;;   L link PID   U unlink PID   M monitor PID   T trap_exit on   N now
;;   X exit PID (empty: self) with reason "bye"   D send PID "hello"
;;   A send_after 10 ms "tick"   G log ARG   C call PID "get"
;; Results: a buffer the host gave (S F W P C; a status it returned instead
;; as one decimal digit), 8 little-endian bytes (N, M), or the status as
;; one decimal digit. handle_info remembers the last
;; message as "KIND:BODY", which state_export returns.
(module
  (import "steward" "self" (func $self (result i64)))
  (import "steward" "from" (func $from (result i64)))
  (import "steward" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "steward" "register" (func $register (param i32 i32) (result i32)))
  (import "steward" "spawn" (func $spawn (param i32 i32 i32 i32 i32) (result i64)))
  (import "steward" "link" (func $link (param i32 i32) (result i32)))
  (import "steward" "unlink" (func $unlink (param i32 i32) (result i32)))
  (import "steward" "monitor" (func $monitor (param i32 i32) (result i64)))
  (import "steward" "demonitor" (func $demonitor (param i64)))
  (import "steward" "trap_exit" (func $trap_exit (param i32)))
  (import "steward" "now" (func $now (result i64)))
  (import "steward" "exit" (func $exit (param i32 i32 i32 i32) (result i32)))
  (import "steward" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "steward" "send_after" (func $send_after (param i64 i32 i32) (result i32)))
  (import "steward" "log" (func $log (param i32 i32 i32)))
  (import "steward" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))

  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (global $last (mut i32) (i32.const 0)) ;; length of the last info at 4096
  (data (i32.const 2048) "bye")
  (data (i32.const 2056) "hello")
  (data (i32.const 2064) "tick")
  (data (i32.const 2072) "get")

  ;; a bump allocator (no growth: the probe's inputs are small)
  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  ;; the host frees its buffers last first: pop the top of the heap.
  (func (export "dealloc") (param $p i32) (param $size i32)
    (if (i32.eq (global.get $heap) (i32.add (local.get $p) (local.get $size)))
      (then (global.set $heap (local.get $p)))))

  (func $packed (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (func $digit (param $s i32) (result i64)
    (i32.store8 (i32.const 1024) (i32.add (local.get $s) (i32.const 48)))
    (call $packed (i32.const 1024) (i32.const 1)))
  ;; given: a packed buffer as it is, a status as its digit.
  (func $given (param $r i64) (result i64)
    (if (result i64) (i64.eq (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0xffffffff))
      (then (call $digit (i32.wrap_i64 (local.get $r))))
      (else (local.get $r))))
  (func $word (param $v i64) (result i64)
    (i64.store (i32.const 1024) (local.get $v))
    (call $packed (i32.const 1024) (i32.const 8)))

  (func (export "init") (param i32 i32) (result i32) (i32.const 0))

  (func (export "handle_call") (param $p i32) (param $n i32) (result i64)
    (local $op i32) (local $a i32) (local $an i32)
    (if (i32.eqz (local.get $n)) (then (return (i64.const 0xffffffff00000001))))
    (local.set $op (i32.load8_u (local.get $p)))
    (local.set $a (i32.add (local.get $p) (i32.const 1)))
    (local.set $an (i32.sub (local.get $n) (i32.const 1)))
    (if (i32.eq (local.get $op) (i32.const 83)) (then (return (call $given (call $self)))))
    (if (i32.eq (local.get $op) (i32.const 70)) (then (return (call $given (call $from)))))
    (if (i32.eq (local.get $op) (i32.const 87)) (then (return (call $given (call $whereis (local.get $a) (local.get $an))))))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (return (call $digit (call $register (local.get $a) (local.get $an))))))
    (if (i32.eq (local.get $op) (i32.const 80))
      (then (return (call $given (call $spawn (local.get $a) (local.get $an) (i32.const 0) (i32.const 0) (i32.const 1))))))
    (if (i32.eq (local.get $op) (i32.const 76)) (then (return (call $digit (call $link (local.get $a) (local.get $an))))))
    (if (i32.eq (local.get $op) (i32.const 85)) (then (return (call $digit (call $unlink (local.get $a) (local.get $an))))))
    (if (i32.eq (local.get $op) (i32.const 77)) (then (return (call $word (call $monitor (local.get $a) (local.get $an))))))
    (if (i32.eq (local.get $op) (i32.const 84))
      (then (call $trap_exit (i32.const 1)) (return (call $digit (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 78)) (then (return (call $word (call $now)))))
    (if (i32.eq (local.get $op) (i32.const 88))
      (then (return (call $digit (call $exit (local.get $a) (local.get $an) (i32.const 2048) (i32.const 3))))))
    (if (i32.eq (local.get $op) (i32.const 68))
      (then (return (call $digit (call $send (local.get $a) (local.get $an) (i32.const 2056) (i32.const 5))))))
    (if (i32.eq (local.get $op) (i32.const 65))
      (then (return (call $digit (call $send_after (i64.const 10) (i32.const 2064) (i32.const 4))))))
    (if (i32.eq (local.get $op) (i32.const 71))
      (then (call $log (i32.const 2) (local.get $a) (local.get $an)) (return (call $digit (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 67))
      (then (return (call $given (call $call (local.get $a) (local.get $an) (i32.const 2072) (i32.const 3) (i32.const 0))))))
    (i64.const 0xffffffff00000001))

  (func (export "handle_cast") (param i32 i32) (result i32) (i32.const 0))

  ;; remember "KIND:BODY" (body cut at 1000 bytes) at 4096.
  (func (export "handle_info") (param $kind i32) (param $p i32) (param $n i32) (result i32)
    (if (i32.gt_u (local.get $n) (i32.const 1000)) (then (local.set $n (i32.const 1000))))
    (i32.store8 (i32.const 4096) (i32.add (local.get $kind) (i32.const 48)))
    (i32.store8 (i32.const 4097) (i32.const 58))
    (memory.copy (i32.const 4098) (local.get $p) (local.get $n))
    (global.set $last (i32.add (local.get $n) (i32.const 2)))
    (i32.const 0))

  (func (export "terminate") (param i32 i32))
  (func (export "code_change") (param i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "state_export") (result i64) (call $packed (i32.const 4096) (global.get $last)))
  (func (export "state_import") (param i32 i32) (result i32) (i32.const 0))
)

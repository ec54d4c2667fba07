;; sandbox-abuse: the adversarial guest of the sandbox tests
;; (hotcode/sandbox_test.go). handle_call's first byte picks the abuse, the
;; rest is its argument:
;;   L loop forever                     R recurse forever, no loop
;;   G grow memory a page at a time until memory.grow fails, then reply
;;     memory.size (pages, 8 bytes little-endian)
;;   g grow one page: reply "0" when it did, "F" when memory.grow failed
;;   H call the host (now) in a loop forever
;;   S send "x" to PID in a loop until a send fails (at most 100000):
;;     reply the sends that succeeded and the failing status (two
;;     little-endian u32)
;;   C cast "inc" to PID, then loop forever (a spinner that says it spins)
;;   X exit PID with reason "bye": reply the status as one digit
;;   P spawn BEHAVIOR, not linked: reply the status as one digit (0: done)
;;   K link PID, M monitor PID, W look up NAME (whereis): reply the status
;;     as one digit (0: done; for W, 0: found)
;;   anything else: reply "ok"
;; The recursion keeps its depth at 1032 (u32), in memory, so that what it
;; reached can be read by a test that instantiates it with wazero alone.
(module
  (import "steward" "now" (func $now (result i64)))
  (import "steward" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "steward" "cast" (func $cast (param i32 i32 i32 i32) (result i32)))
  (import "steward" "exit" (func $exit (param i32 i32 i32 i32) (result i32)))
  (import "steward" "spawn" (func $spawn (param i32 i32 i32 i32 i32) (result i64)))
  (import "steward" "link" (func $link (param i32 i32) (result i32)))
  (import "steward" "monitor" (func $monitor (param i32 i32) (result i64)))
  (import "steward" "whereis" (func $whereis (param i32 i32) (result i64)))

  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 2048) "bye")
  (data (i32.const 2056) "x")
  (data (i32.const 2064) "inc")
  (data (i32.const 2072) "ok")

  ;; a bump allocator (no growth: the inputs are small)
  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func (export "dealloc") (param $p i32) (param $size i32)
    (if (i32.eq (global.get $heap) (i32.add (local.get $p) (local.get $size)))
      (then (global.set $heap (local.get $p)))))

  (func $packed (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  ;; the status of an i64 host result: its low word when it is a status
  ;; word (high word all ones), else 0 (done)
  (func $status (param $r i64) (result i32)
    (if (result i32) (i64.eq (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0xffffffff))
      (then (i32.wrap_i64 (local.get $r)))
      (else (i32.const 0))))
  (func $digit (param $s i32) (result i64)
    (i32.store8 (i32.const 1024) (i32.add (local.get $s) (i32.const 48)))
    (call $packed (i32.const 1024) (i32.const 1)))

  (func $spin
    (loop $l (br $l)))

  ;; recursion without a loop: every frame stores its depth and calls the
  ;; next one.
  (func $down (param $d i32)
    (i32.store (i32.const 1032) (local.get $d))
    (call $down (i32.add (local.get $d) (i32.const 1))))

  (func $bomb (result i64)
    (block $done
      (loop $l
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $l)))
    (i64.store (i32.const 1024) (i64.extend_i32_u (memory.size)))
    (call $packed (i32.const 1024) (i32.const 8)))

  (func $hostloop
    (loop $l
      (drop (call $now))
      (br $l)))

  (func $sendloop (param $a i32) (param $an i32) (result i64)
    (local $k i32) (local $st i32)
    (block $done
      (loop $l
        (local.set $st (call $send (local.get $a) (local.get $an) (i32.const 2056) (i32.const 1)))
        (br_if $done (local.get $st))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $k) (i32.const 100000)))))
    (i32.store (i32.const 1024) (local.get $k))
    (i32.store (i32.const 1028) (local.get $st))
    (call $packed (i32.const 1024) (i32.const 8)))

  (func (export "init") (param i32 i32) (result i32) (i32.const 0))

  (func (export "handle_call") (param $p i32) (param $n i32) (result i64)
    (local $op i32) (local $a i32) (local $an i32)
    (if (i32.eqz (local.get $n)) (then (return (call $packed (i32.const 2072) (i32.const 2)))))
    (local.set $op (i32.load8_u (local.get $p)))
    (local.set $a (i32.add (local.get $p) (i32.const 1)))
    (local.set $an (i32.sub (local.get $n) (i32.const 1)))
    (if (i32.eq (local.get $op) (i32.const 76)) (then (call $spin) (unreachable)))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (call $down (i32.const 1)) (unreachable)))
    (if (i32.eq (local.get $op) (i32.const 71)) (then (return (call $bomb))))
    (if (i32.eq (local.get $op) (i32.const 103))
      (then
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then
            (i32.store8 (i32.const 1024) (i32.const 70))
            (return (call $packed (i32.const 1024) (i32.const 1)))))
        (return (call $digit (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 72)) (then (call $hostloop) (unreachable)))
    (if (i32.eq (local.get $op) (i32.const 83)) (then (return (call $sendloop (local.get $a) (local.get $an)))))
    (if (i32.eq (local.get $op) (i32.const 67))
      (then
        (drop (call $cast (local.get $a) (local.get $an) (i32.const 2064) (i32.const 3)))
        (call $spin) (unreachable)))
    (if (i32.eq (local.get $op) (i32.const 88))
      (then (return (call $digit (call $exit (local.get $a) (local.get $an) (i32.const 2048) (i32.const 3))))))
    (if (i32.eq (local.get $op) (i32.const 75))
      (then (return (call $digit (call $link (local.get $a) (local.get $an))))))
    (if (i32.eq (local.get $op) (i32.const 77))
      (then (return (call $digit (call $status (call $monitor (local.get $a) (local.get $an)))))))
    (if (i32.eq (local.get $op) (i32.const 87))
      (then (return (call $digit (call $status (call $whereis (local.get $a) (local.get $an)))))))
    (if (i32.eq (local.get $op) (i32.const 80))
      (then
        (return (call $digit (i32.wrap_i64
          (i64.and (call $spawn (local.get $a) (local.get $an) (i32.const 0) (i32.const 0) (i32.const 0))
                   (i64.const 0xffffffff)))))))
    (call $packed (i32.const 2072) (i32.const 2)))

  (func (export "handle_cast") (param i32 i32) (result i32) (i32.const 0))
  (func (export "handle_info") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "terminate") (param i32 i32))
  (func (export "code_change") (param i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "state_export") (result i64) (i64.const 0))
  (func (export "state_import") (param i32 i32) (result i32) (i32.const 0))
)

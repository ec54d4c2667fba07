;; sandbox-files: a WASI module that opens files (hotcode/sandbox_test.go).
;; handle_call(path): path_open(path, O_CREAT) in its preopened directory
;; (fd 3, mounted at /data), never closing what it opened; the reply is
;; the errno as one byte (0: opened).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))

  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func (export "dealloc") (param $p i32) (param $size i32)
    (if (i32.eq (global.get $heap) (i32.add (local.get $p) (local.get $size)))
      (then (global.set $heap (local.get $p)))))

  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "handle_call") (param $p i32) (param $n i32) (result i64)
    (i32.store8 (i32.const 1028)
      (call $path_open (i32.const 3) (i32.const 0) (local.get $p) (local.get $n) (i32.const 1)
        (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 1024)))
    (i64.const 0x0000040400000001))
  (func (export "handle_cast") (param i32 i32) (result i32) (i32.const 0))
  (func (export "handle_info") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "terminate") (param i32 i32))
  (func (export "code_change") (param i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "state_export") (result i64) (i64.const 0))
  (func (export "state_import") (param i32 i32) (result i32) (i32.const 0))
)

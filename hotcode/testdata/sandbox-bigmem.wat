;; sandbox-bigmem: a module whose memory minimum (64 pages, 4 MiB) is over
;; the page cap of a sandbox with max_memory_bytes under 4 MiB
;; (hotcode/sandbox_test.go). Otherwise it does nothing.
(module
  (memory (export "memory") 64)
  (func (export "alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "handle_call") (param i32 i32) (result i64) (i64.const 0))
  (func (export "handle_cast") (param i32 i32) (result i32) (i32.const 0))
  (func (export "handle_info") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "terminate") (param i32 i32))
  (func (export "code_change") (param i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "state_export") (result i64) (i64.const 0))
  (func (export "state_import") (param i32 i32) (result i32) (i32.const 0))
)

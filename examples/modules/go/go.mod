module github.com/steward/steward/examples/modules/go

go 1.26

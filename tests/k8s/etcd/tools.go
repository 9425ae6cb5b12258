//go:build tools

// Package tools pins the etcd server in go.mod; build.sh builds it, nothing imports this.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)

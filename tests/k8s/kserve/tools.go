//go:build tools

// Package tools pins KServe's controller manager in go.mod; build.sh builds it, nothing imports this.
package tools

import _ "github.com/kserve/kserve/cmd/manager"

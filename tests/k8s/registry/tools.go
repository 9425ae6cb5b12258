//go:build tools

// Package tools pins the CNCF distribution registry in go.mod; build.sh builds it, nothing imports this.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)

//go:build !unix

package main

import "time"

// selfCPU is unknown outside unix: 0.
func selfCPU() time.Duration { return 0 }

// childrenCPU is unknown outside unix: 0.
func childrenCPU() time.Duration { return 0 }

//go:build !unix

package main

import (
	"os"
	"time"
)

// childUsage is unknown outside unix: zeros.
func childUsage(*os.ProcessState) (maxRSS int64, user, sys time.Duration) { return 0, 0, 0 }

// Command enxame runs a peer of the enxame swarm and drives it.
package main

import (
	"os"

	"github.com/enxame/enxame/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}

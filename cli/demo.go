package cli

import (
	"errors"

	"github.com/enxame/enxame/simnet"
	"github.com/spf13/cobra"
)

type demoFlags struct {
	peers    int
	fileMiB  int
	units    int
	width    int
	height   int
	iter     int
	out      string
	keepLogs bool
}

func newDemoCmd(e *env) *cobra.Command {
	var f demoFlags
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a local demo swarm: share a file between peers and render an image across them",
		Long: `demo starts a swarm of peers on loopback in this process (real libp2p hosts,
real DHT, real block store and sandbox), shares a file from one peer and
fetches it from another, then publishes a Mandelbrot job split into units
that run across the peers and are stitched into one PNG by a reduce unit.
It prints where each unit ran and how long each step took, and removes
everything it made except the image.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.peers < 2 || f.units < 1 || f.fileMiB < 1 || f.width < 1 || f.height < f.units {
				return usageError{errors.New("demo needs --peers >= 2, --units >= 1, --file-mib >= 1 and --height >= --units")}
			}
			return simnet.Demo(cmd.Context(), simnet.DemoConfig{Peers: f.peers, FileMiB: f.fileMiB, Units: f.units,
				Width: f.width, Height: f.height, Iter: f.iter, Out: f.out}, e.stdout, e.stderr)
		},
	}
	fl := c.Flags()
	fl.IntVar(&f.peers, "peers", 6, "peers in the swarm")
	fl.IntVar(&f.fileMiB, "file-mib", 64, "size of the shared file in MiB")
	fl.IntVar(&f.units, "units", 12, "work units of the Mandelbrot job")
	fl.IntVar(&f.width, "width", 1024, "image width in pixels")
	fl.IntVar(&f.height, "height", 768, "image height in pixels")
	fl.IntVar(&f.iter, "iter", 1000, "maximum iterations per pixel")
	fl.StringVarP(&f.out, "output", "o", "mandelbrot.png", "where to write the image")
	return c
}

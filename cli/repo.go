package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRepoCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "repo", Short: "Inspect the block store"}
	c.AddCommand(&cobra.Command{
		Use:   "stat",
		Short: "Show the block store's use against its quota (storage.max)",
		Long: `stat shows how much the block store holds against its quota (config
storage.max, or daemon --storage-max): the bytes and number of stored
blocks, the bytes pins reach (which no garbage collection removes), the free
space of the disk and the store's path. Past the quota, unpinned blocks are
removed oldest first; when pinned data alone would pass it, adds and fetches
fail until 'enxame pin rm' and 'enxame gc' free space or the quota is raised.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			st, err := cl.RepoStat(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(st)
			}
			w := e.stdout
			fmt.Fprintf(w, "used:      %s of %s (%s)\n", bytesHuman(st.Bytes), bytesHuman(st.Max), percent(st.Bytes, st.Max))
			fmt.Fprintf(w, "pinned:    %s in %d blocks\n", bytesHuman(st.PinnedBytes), st.PinnedBlocks)
			fmt.Fprintf(w, "blocks:    %d\n", st.Blocks)
			if st.DiskFree >= 0 {
				fmt.Fprintf(w, "disk free: %s\n", bytesHuman(st.DiskFree))
			} else {
				fmt.Fprintf(w, "disk free: unknown\n")
			}
			fmt.Fprintf(w, "path:      %s\n", st.Path)
			return nil
		},
	})
	return c
}

// percent writes n as a percentage of max ("12.5%").
func percent(n, max int64) string {
	if max <= 0 {
		return "no quota"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max))
}

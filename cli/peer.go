package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

func newIDCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Print the daemon's peer ID and addresses",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			id, err := c.ID(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(id)
			}
			fmt.Fprintf(e.stdout, "peer ID: %s\nagent:   %s\naddresses:\n", id.ID, id.AgentVersion)
			for _, a := range id.Addrs {
				fmt.Fprintf(e.stdout, "  %s\n", a)
			}
			return nil
		},
	}
}

func newPeersCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Short: "List connected peers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			peers, err := c.Peers(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				if peers == nil {
					peers = []control.Peer{}
				}
				return e.printJSON(peers)
			}
			if len(peers) == 0 {
				fmt.Fprintln(e.stdout, "no peers connected")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PEER\tADDRESS\tDIR\tPATH\tLATENCY\tAGENT")
			for _, p := range peers {
				lat := "-"
				if p.Latency > 0 {
					lat = p.Latency.Round(10 * time.Microsecond).String()
				}
				path := p.Path
				if path == "" {
					path = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Addr, p.Direction, path, lat, p.Agent)
			}
			return tw.Flush()
		},
	}
}

func newConnectCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "connect MULTIADDR",
		Short: "Connect to a peer (a multiaddr ending in /p2p/PEERID)",
		Args:  exactArgs(1, "one multiaddr"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.Connect(cmd.Context(), args[0])
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(res)
			}
			fmt.Fprintf(e.stdout, "connected to %s in %s\n", res.ID, res.Took.Round(time.Millisecond))
			return nil
		},
	}
}

func newDHTCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "dht", Short: "Query the Kademlia DHT"}
	var timeout time.Duration
	find := &cobra.Command{
		Use:   "find-peer PEERID",
		Short: "Find a peer's addresses through the DHT",
		Args:  exactArgs(1, "one peer ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.FindPeer(cmd.Context(), control.FindPeerRequest{Peer: args[0], Timeout: timeout})
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(res)
			}
			how := fmt.Sprintf("queried %d peers", res.Queried)
			if res.Queried == 0 {
				how = "already connected"
			}
			fmt.Fprintf(e.stdout, "found %s in %s (%s)\n", res.ID, res.Took.Round(time.Microsecond), how)
			for _, a := range res.Addrs {
				fmt.Fprintf(e.stdout, "  %s\n", a)
			}
			return nil
		},
	}
	find.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	table := &cobra.Command{
		Use:   "table",
		Short: "Print the routing table by bucket",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			buckets, err := c.Table(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				if buckets == nil {
					buckets = []control.Bucket{}
				}
				return e.printJSON(buckets)
			}
			total := 0
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BUCKET\tPEER\tCONNECTED\tADDED")
			for _, b := range buckets {
				for _, p := range b.Peers {
					total++
					fmt.Fprintf(tw, "%d\t%s\t%v\t%s ago\n", b.CPL, p.ID, p.Connected, time.Since(p.AddedAt).Round(time.Second))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d peers in %d buckets\n", total, len(buckets))
			return nil
		},
	}
	c.AddCommand(find, table)
	return c
}

func newStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's state: uptime, peers, DHT, addresses, bootstrap",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(st)
			}
			w := e.stdout
			fmt.Fprintf(w, "peer ID:       %s\n", st.ID)
			fmt.Fprintf(w, "version:       %s\n", st.Version)
			fmt.Fprintf(w, "uptime:        %s\n", st.Uptime.Round(time.Second))
			fmt.Fprintf(w, "peers:         %d\n", st.Peers)
			fmt.Fprintf(w, "routing table: %d peers (DHT %s)\n", st.RoutingTable, st.DHTMode)
			fmt.Fprintf(w, "reachability:  %s\n", st.Reachability)
			fmt.Fprintf(w, "listening on:  %s\n", strings.Join(st.Listen, " "))
			if len(st.Observed) > 0 {
				fmt.Fprintf(w, "observed as:   %s\n", strings.Join(st.Observed, " "))
			}
			for _, b := range st.Bootstrap {
				state := "connected"
				if !b.Connected {
					state = "not connected"
					if b.LastError != "" {
						state = fmt.Sprintf("unreachable after %d attempts, retry in %s: %s",
							b.Attempts, time.Until(b.NextRetry).Round(time.Second), b.LastError)
					}
				}
				fmt.Fprintf(w, "bootstrap:     %s %s\n", b.ID, state)
			}
			fmt.Fprintf(w, "storage:       %s of %s\n", bytesHuman(st.StorageBytes), bytesHuman(st.StorageMax))
			return nil
		},
	}
}

package share

import (
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// child is a node of a file DAG as its parent links to it.
type child struct {
	cid cid.Cid
	// tsize is the cumulative size of the sub-DAG (the dag-pb link Tsize)
	// and fsize the file bytes under it (the UnixFS blocksize).
	tsize uint64
	fsize uint64
}

// treeBuilder assembles the balanced UnixFS file layout of boxo's
// importer/balanced from the leaves in file order, streaming: levels[i]
// holds the pending children of the next node of height i+1. A node is cut
// as soon as it has maxLinks children; at the end the pending children are
// closed bottom-up. This gives exactly boxo's tree: every node is full
// except those on the rightmost path, a single leaf is its own root, and a
// rightmost subtree of one leaf still gets its chain of one-link parents.
type treeBuilder struct {
	maxLinks int
	builder  cid.Builder
	levels   [][]child
	// put stores an internal node as soon as it is cut.
	put func(*merkledag.ProtoNode) error
	// last is the most recent internal node cut, the root when finish
	// returns one.
	last *merkledag.ProtoNode
}

func newTreeBuilder(maxLinks int, b cid.Builder, put func(*merkledag.ProtoNode) error) *treeBuilder {
	return &treeBuilder{maxLinks: maxLinks, builder: b, put: put}
}

// addLeaf appends the next leaf of the file.
func (t *treeBuilder) addLeaf(c child) error { return t.add(0, c) }

func (t *treeBuilder) add(level int, c child) error {
	for len(t.levels) <= level {
		t.levels = append(t.levels, nil)
	}
	t.levels[level] = append(t.levels[level], c)
	if len(t.levels[level]) < t.maxLinks {
		return nil
	}
	n, err := t.cut(level)
	if err != nil {
		return err
	}
	return t.add(level+1, n)
}

// cut makes the node over the pending children of level.
func (t *treeBuilder) cut(level int) (child, error) {
	kids := t.levels[level]
	t.levels[level] = t.levels[level][:0]
	fsn := ft.NewFSNode(ft.TFile)
	nd := new(merkledag.ProtoNode)
	if err := nd.SetCidBuilder(t.builder); err != nil {
		return child{}, err
	}
	for _, k := range kids {
		if err := nd.AddRawLink("", &format.Link{Size: k.tsize, Cid: k.cid}); err != nil {
			return child{}, err
		}
		fsn.AddBlockSize(k.fsize)
	}
	data, err := fsn.GetBytes()
	if err != nil {
		return child{}, err
	}
	nd.SetData(data)
	size, err := nd.Size()
	if err != nil {
		return child{}, err
	}
	if err := t.put(nd); err != nil {
		return child{}, err
	}
	t.last = nd
	return child{cid: nd.Cid(), tsize: size, fsize: fsn.FileSize()}, nil
}

// finish closes the pending nodes and returns the root. root is the last
// internal node cut, or nil when the file is a single leaf (then the root
// is that leaf, returned as c). It must not be called on an empty file.
func (t *treeBuilder) finish() (c child, root *merkledag.ProtoNode, err error) {
	for level := 0; level < len(t.levels); level++ {
		above := false
		for _, l := range t.levels[level+1:] {
			if len(l) > 0 {
				above = true
			}
		}
		pending := t.levels[level]
		if !above && len(pending) == 1 {
			c := pending[0]
			if level == 0 {
				return c, nil, nil
			}
			return c, t.last, nil
		}
		if len(pending) == 0 {
			continue
		}
		n, err := t.cut(level)
		if err != nil {
			return child{}, nil, err
		}
		for len(t.levels) <= level+1 {
			t.levels = append(t.levels, nil)
		}
		t.levels[level+1] = append(t.levels[level+1], n)
	}
	return child{}, nil, fmt.Errorf("share: finish an empty file tree")
}

// cidBuilders returns the builders for leaves and for dag-pb nodes.
func cidBuilders(v0 bool) (leaf, node cid.Prefix) {
	node = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}
	if v0 {
		node = cid.Prefix{Version: 0, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}
	}
	leaf = cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}
	return leaf, node
}

// maxLinks is the fan-out of file nodes: boxo's DefaultLinksPerBlock (174).
var maxLinks = helpers.DefaultLinksPerBlock

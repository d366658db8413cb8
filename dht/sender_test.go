package dht

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"google.golang.org/protobuf/proto"
)

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  *pb.Message
	}{
		{"empty", &pb.Message{}},
		{"find node", pb.NewMessage(pb.Message_FIND_NODE, []byte("key"), 0)},
		{"providers", &pb.Message{Type: pb.Message_GET_PROVIDERS, Key: bytes.Repeat([]byte{7}, 34),
			ProviderPeers: []*pb.Message_Peer{{Id: []byte("a"), Addrs: [][]byte{{1, 2, 3}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, err := encodeMessage(tt.msg)
			if err != nil {
				t.Fatalf("encodeMessage: %v", err)
			}
			var got pb.Message
			if err := readMessage(bufio.NewReader(bytes.NewReader(buf)), &got); err != nil {
				t.Fatalf("readMessage(encodeMessage(%v)): %v", tt.msg, err)
			}
			if !proto.Equal(&got, tt.msg) {
				t.Errorf("readMessage(encodeMessage(m)) = %v, want %v", &got, tt.msg)
			}
		})
	}
}

func TestReadMessageRejects(t *testing.T) {
	huge := binary.AppendUvarint(nil, MaxMessageSize+1)
	tests := []struct {
		name    string
		in      []byte
		wantErr error // nil: any error
	}{
		{"empty", nil, nil},
		{"truncated body", []byte{5, 8, 1}, nil},
		{"too large", huge, ErrMessageTooLarge},
		{"bad varint", bytes.Repeat([]byte{0xff}, 11), nil},
		{"not protobuf", []byte{2, 0xff, 0xff}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m pb.Message
			err := readMessage(bufio.NewReader(bytes.NewReader(tt.in)), &m)
			if err == nil {
				t.Fatalf("readMessage(%x) = nil, want an error", tt.in)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("readMessage(%x) = %v, want %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

// FuzzReadMessage: readMessage never panics, never accepts more than
// MaxMessageSize, and what it accepts encodes and decodes to itself.
func FuzzReadMessage(f *testing.F) {
	for _, m := range []*pb.Message{
		{},
		pb.NewMessage(pb.Message_FIND_NODE, []byte("key"), 0),
		{Type: pb.Message_ADD_PROVIDER, Key: []byte("k"), ProviderPeers: []*pb.Message_Peer{{Id: []byte("a"), Addrs: [][]byte{{4, 127, 0, 0, 1}}}}},
	} {
		buf, err := encodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf)
	}
	f.Add([]byte{})
	f.Add(binary.AppendUvarint(nil, MaxMessageSize+1))
	f.Fuzz(func(t *testing.T, in []byte) {
		var m pb.Message
		if err := readMessage(bufio.NewReader(bytes.NewReader(in)), &m); err != nil {
			return
		}
		buf, err := encodeMessage(&m)
		if err != nil {
			t.Fatalf("encodeMessage(accepted %x): %v", in, err)
		}
		var again pb.Message
		if err := readMessage(bufio.NewReader(bytes.NewReader(buf)), &again); err != nil {
			t.Fatalf("readMessage(encodeMessage(m)): %v", err)
		}
		if !proto.Equal(&m, &again) {
			t.Fatalf("round trip changed %v into %v", &m, &again)
		}
	})
}

package node

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Files and directories inside a home.
const (
	IdentityFile = "identity.key"
	ConfigFile   = "config.yaml"
	DatastoreDir = "datastore"
	LockFile     = "repo.lock"
)

// ErrHomeInUse is returned when another process holds a home's lock.
var ErrHomeInUse = errors.New("node: home is in use by another enxame daemon")

// ErrNoHome is returned when a home has not been initialised.
var ErrNoHome = errors.New("node: home is not initialised")

// InitResult describes what Init did.
type InitResult struct {
	Home    string
	PeerID  peer.ID
	Created []string // files and directories created by this call
}

// Init creates home if needed: the directory (0700), an Ed25519 identity
// (0600), a commented config file and the datastore. It never overwrites an
// existing identity or config; running it again only creates what is
// missing. It may run while a daemon holds the home.
func Init(home string) (InitResult, error) {
	res := InitResult{Home: home}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return res, fmt.Errorf("init: create home %s: %w", home, err)
	}
	key, created, err := loadOrCreateIdentity(filepath.Join(home, IdentityFile))
	if err != nil {
		return res, fmt.Errorf("init: %w", err)
	}
	if created {
		res.Created = append(res.Created, IdentityFile)
	}
	res.PeerID, err = peer.IDFromPrivateKey(key)
	if err != nil {
		return res, fmt.Errorf("init: peer ID: %w", err)
	}
	cfgPath := filepath.Join(home, ConfigFile)
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(cfgPath, []byte(ConfigTemplate()), 0o600); err != nil {
			return res, fmt.Errorf("init: write config: %w", err)
		}
		res.Created = append(res.Created, ConfigFile)
	} else if err != nil {
		return res, fmt.Errorf("init: %w", err)
	}
	if _, err := os.Stat(filepath.Join(home, APITokenFile)); errors.Is(err, fs.ErrNotExist) {
		if _, err := APIToken(home); err != nil {
			return res, fmt.Errorf("init: %w", err)
		}
		res.Created = append(res.Created, APITokenFile)
	}
	dsPath := filepath.Join(home, DatastoreDir)
	if _, err := os.Stat(dsPath); errors.Is(err, fs.ErrNotExist) {
		// Opening creates it; a daemon cannot hold a datastore that does
		// not exist yet, so there is no lock to fight for.
		store, err := pebbleds.NewDatastore(dsPath)
		if err != nil {
			return res, fmt.Errorf("init: create datastore: %w", err)
		}
		if err := store.Close(); err != nil {
			return res, fmt.Errorf("init: close datastore: %w", err)
		}
		res.Created = append(res.Created, DatastoreDir)
	} else if err != nil {
		return res, fmt.Errorf("init: %w", err)
	}
	return res, nil
}

// LoadConfig reads home's config file. A missing file yields DefaultConfig.
// The returned config has Home set.
func LoadConfig(home string) (Config, error) {
	path := filepath.Join(home, ConfigFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		cfg := DefaultConfig()
		cfg.Home = home
		return cfg, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	cfg, err := ParseConfig(path, data)
	if err != nil {
		return Config{}, err
	}
	cfg.Home = home
	return cfg, nil
}

func loadOrCreateIdentity(path string) (crypto.PrivKey, bool, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := crypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("read identity %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("read identity: %w", err)
	}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, false, fmt.Errorf("generate identity: %w", err)
	}
	data, err = crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("encode identity: %w", err)
	}
	if err := writeFileExclusive(path, data, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another init won the race: use its key.
			return loadOrCreateIdentity(path)
		}
		return nil, false, fmt.Errorf("write identity: %w", err)
	}
	return key, true, nil
}

// writeFileExclusive writes data to a temporary file and links it to path,
// failing with fs.ErrExist if path exists. A crash leaves either no file or
// the whole file.
func writeFileExclusive(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeFileAtomic writes data to path through a temporary file and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// Windows cannot flush a directory (FlushFileBuffers on its handle
		// is access denied); NTFS journals the rename itself.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errLocked is returned by lockFile when another process holds the lock.
var errLocked = errors.New("node: file is locked")

// homeLock is an exclusive lock on the home's lock file, released when the
// process exits, however it exits.
type homeLock struct{ f *os.File }

func lockHome(home string) (*homeLock, error) {
	path := filepath.Join(home, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock home: %w", err)
	}
	if err := lockFile(f); err != nil {
		pid := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			pid = strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, errLocked) {
			if pid != "" {
				return nil, fmt.Errorf("%w: %s (pid %s)", ErrHomeInUse, home, pid)
			}
			return nil, fmt.Errorf("%w: %s", ErrHomeInUse, home)
		}
		return nil, fmt.Errorf("lock home %s: %w", home, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &homeLock{f: f}, nil
}

func (l *homeLock) release() error {
	if l == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	return l.f.Close() // closing the descriptor drops the flock
}

// loadIdentity reads home's identity; ErrNoHome when it is missing.
func loadIdentity(home string) (crypto.PrivKey, error) {
	path := filepath.Join(home, IdentityFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (run `enxame init`)", ErrNoHome, home, IdentityFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	// Windows reports no permission bits (a writable file is 0666); its
	// ACLs are not checked here.
	if st, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("identity %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
	}
	key, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("read identity %s: %w", path, err)
	}
	return key, nil
}

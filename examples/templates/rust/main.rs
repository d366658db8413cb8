// A first enxame job in Rust: copy this file and change `count`. It counts,
// in every input file, the lines that contain the pattern given as its first
// argument, and prints "path<TAB>count" per file and "total<TAB>N" last.
//
// The contract (docs/first-job.md): the input files are under /input
// (read-only; walk them in lexical order), the arguments are
// std::env::args().skip(1), the result is what is written to stdout,
// diagnostics go to stderr, and the exit status is 0 for success, 1 for bad
// input, 2 for bad arguments. There is no network; the clock and the random
// source are deterministic.
//
// Build (Debian: apt-get install rustc libstd-rust-dev-wasm32; newer
// toolchains call the target wasm32-wasip1):
//   rustc --edition 2021 --target wasm32-wasi -O -C strip=symbols -o job.wasm main.rs
// Run:
//   enxame compute run job.wasm --arg PATTERN --input FILE --split-lines 1000
use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 1 || args[0].is_empty() {
        eprintln!("usage: template PATTERN");
        exit(2);
    }
    let pattern = args[0].as_bytes();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut total = 0u64;
    let root = Path::new("/input");
    let mut files = Vec::new();
    if root.exists() {
        if let Err(e) = walk(root, &mut files) {
            eprintln!("template: {}", e);
            exit(1);
        }
    }
    for path in files {
        match count(&path, pattern) {
            Ok(n) => {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                writeln!(out, "{}\t{}", rel.display(), n).unwrap();
                total += n;
            }
            Err(e) => {
                out.flush().unwrap();
                eprintln!("template: read {}: {}", path.display(), e);
                exit(1);
            }
        }
    }
    writeln!(out, "total\t{}", total).unwrap();
}

// walk appends the regular files under dir to files, depth first, each
// directory's entries in lexical order.
fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let kind = e.file_type()?;
        if kind.is_dir() {
            walk(&e.path(), files)?;
        } else if kind.is_file() {
            files.push(e.path());
        }
    }
    Ok(())
}

// count returns how many lines of the file contain pattern.
fn count(path: &Path, pattern: &[u8]) -> io::Result<u64> {
    let mut r = io::BufReader::new(fs::File::open(path)?);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(n);
        }
        if line.windows(pattern.len()).any(|w| w == pattern) {
            n += 1;
        }
    }
}

/*
 * A first enxame job in C: copy this file and change count(). It counts, in
 * every input file, the lines that contain the pattern given as its first
 * argument, and prints "path<TAB>count" per file and "total<TAB>N" last.
 *
 * The contract (docs/first-job.md): the input files are under /input
 * (read-only; walk them in lexical order), the arguments are argv[1..], the
 * result is what is written to stdout, diagnostics go to stderr, and the
 * exit status is 0 for success, 1 for bad input, 2 for bad arguments. There
 * is no network; the clock and the random source are deterministic.
 *
 * Build (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32;
 * elsewhere point --sysroot at the WASI sysroot, e.g. wasi-sdk's):
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -s -o job.wasm main.c
 * Run:
 *   enxame compute run job.wasm --arg PATTERN --input FILE --split-lines 1000
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROOT "/input"

static const char *pattern;
static unsigned long long total;

/* count returns how many lines of the file contain pattern, or -1. */
static long long count(const char *path) {
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	char *line = NULL;
	size_t cap = 0;
	long long n = 0;
	while (getline(&line, &cap, f) >= 0)
		if (strstr(line, pattern)) n++;
	int bad = ferror(f);
	free(line);
	fclose(f);
	return bad ? -1 : n;
}

static int byname(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* walk counts the regular files under dir, depth first, each directory's
 * entries in lexical order; it returns 0, or -1 with errno set. */
static int walk(const char *dir) {
	DIR *d = opendir(dir);
	if (!d) return -1;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		names = realloc(names, (n + 1) * sizeof *names);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, byname);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		struct stat st;
		if (lstat(path, &st) != 0) {
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk(path);
		} else if (S_ISREG(st.st_mode)) {
			long long c = count(path);
			if (c < 0) {
				fprintf(stderr, "template: read %s: %s\n", path, strerror(errno));
				rc = -1;
			} else {
				printf("%s\t%lld\n", path + strlen(ROOT) + 1, c);
				total += c;
			}
		}
	}
	for (size_t i = 0; i < n; i++) free(names[i]);
	free(names);
	return rc;
}

int main(int argc, char **argv) {
	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: template PATTERN\n");
		return 2;
	}
	pattern = argv[1];
	struct stat st;
	if (stat(ROOT, &st) == 0 && walk(ROOT) != 0) {
		fprintf(stderr, "template: %s\n", strerror(errno));
		return 1;
	}
	printf("total\t%llu\n", total);
	return 0;
}

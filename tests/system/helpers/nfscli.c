/*
 * nfscli: a long-lived NFS client (libnfs) that opens ONE file handle and keeps it across
 * server-side events, so a test can tell whether the handle survives (no ESTALE).
 *
 *   nfscli nfs://127.0.0.1/export/path[?version=4]
 *
 * then one command a line on stdin, one answer a line on stdout:
 *   read  ->  "read OK <bytes> <first line>"  or  "read ERR <rc> <message>"
 *   stat  ->  "stat OK <ino> <size>"           or  "stat ERR <rc> <message>"
 *   quit
 * The first line printed is "open OK" or "open ERR <message>" (then it exits 1).
 *
 * Build: gcc -O2 -o nfscli nfscli.c -lnfs
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: nfscli NFS-URL < commands\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct nfs_context *nfs = nfs_init_context();
	if (!nfs) {
		printf("open ERR no context\n");
		return 1;
	}
	nfs_set_timeout(nfs, 5000);
	struct nfs_url *url = nfs_parse_url_full(nfs, argv[1]);
	if (!url) {
		printf("open ERR url: %s\n", nfs_get_error(nfs));
		return 1;
	}
	if (nfs_mount(nfs, url->server, url->path) != 0) {
		printf("open ERR mount: %s\n", nfs_get_error(nfs));
		return 1;
	}
	struct nfsfh *fh;
	if (nfs_open(nfs, url->file, O_RDONLY, &fh) != 0) {
		printf("open ERR open: %s\n", nfs_get_error(nfs));
		return 1;
	}
	printf("open OK\n");

	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "read", 4) == 0) {
			char buf[65536];
			int n = nfs_pread(nfs, fh, 0, sizeof buf - 1, buf);
			if (n < 0) {
				printf("read ERR %d %s\n", n, nfs_get_error(nfs));
				continue;
			}
			buf[n] = 0;
			char *nl = strchr(buf, '\n');
			if (nl)
				*nl = 0;
			printf("read OK %d %s\n", n, buf);
		} else if (strncmp(line, "stat", 4) == 0) {
			struct nfs_stat_64 st;
			int r = nfs_fstat64(nfs, fh, &st);
			if (r < 0)
				printf("stat ERR %d %s\n", r, nfs_get_error(nfs));
			else
				printf("stat OK %llu %llu\n", (unsigned long long)st.nfs_ino,
				       (unsigned long long)st.nfs_size);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			printf("? unknown command\n");
		}
	}
	nfs_close(nfs, fh);
	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return 0;
}

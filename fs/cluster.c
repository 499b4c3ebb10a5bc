/* cluster: the fs side of cluster mode (placeholder until the status channel lands). */
#include "fs.h"

int fs_cluster_start(struct fs *fs, char *err, size_t errlen)
{
    (void)fs;
    (void)err;
    (void)errlen;
    return 0;
}

void fs_cluster_stop(struct fs *fs)
{
    (void)fs;
}

/* SPDX-License-Identifier: MIT */
/* Runs a fuzz harness on files instead of under libFuzzer: every file
 * named, or every file in every directory named. The test suite replays
 * the seeds and every input a fuzzer once crashed on (tests/fuzz/corpus/
 * and tests/fuzz/regressions/) with the normal and the sanitizer builds. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f != NULL) {
            fclose(f);
        }
        return 1;
    }
    data = malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        fclose(f);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    return 0;
}

int
main(int argc, char **argv)
{
    int failures = 0;
    unsigned files = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *dir;
        struct dirent *entry;

        if (stat(argv[i], &st) != 0) {
            continue; /* a directory that is not there yet holds nothing */
        }
        if (!S_ISDIR(st.st_mode)) {
            failures += run_file(argv[i]);
            files++;
            continue;
        }
        dir = opendir(argv[i]);
        while (dir != NULL && (entry = readdir(dir)) != NULL) {
            char path[4096];

            if (entry->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", argv[i], entry->d_name);
            failures += run_file(path);
            files++;
        }
        if (dir != NULL) {
            closedir(dir);
        }
    }
    printf("replay: %u inputs\n", files);
    return failures == 0 && files > 0 ? 0 : 1;
}

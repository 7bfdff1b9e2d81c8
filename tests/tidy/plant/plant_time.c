/* tests/tidy/plant/plant_time.c — a planted clock read for the negative tests:
 * `tidy.py symbols` must name `time` in this object and not `snprintf`;
 * `tidy.py sources` must flag the time() call below and nothing in this
 * comment: time(NULL), rand(), getenv("X").
 */
#include <stdio.h>
#include <time.h>

int tidy_plant_time(char *out, size_t out_size);

int tidy_plant_time(char *out, size_t out_size)
{
    const char *decoy = "time(NULL) rand() fopen(path)"; /* a string: not a call */
    time_t now = time(NULL);
    return snprintf(out, out_size, "%s %lld", decoy, (long long)now);
}

/* tests/tidy/plant/plant_fopen.c — a planted file open and environment read
 * for the negative tests: both checks must name fopen and getenv here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tidy_plant_fopen(const char *path);

int tidy_plant_fopen(const char *path)
{
    FILE *f = fopen(path, "r");
    const char *home = getenv("HOME");
    return (f != NULL) + (home != NULL ? (int)strlen(home) : 0);
}

/* tests/tidy/plant/plant_real_env.c — stands in for src/env/real in the
 * negative test: a library of this file is passed as an exempt library.
 */
int tidy_plant_real_env_now(void);

int tidy_plant_real_env_now(void) { return 42; }

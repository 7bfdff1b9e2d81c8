/* tests/tidy/plant/plant_uses_real.c — core code calling straight into the
 * real env (stand-in above): `tidy.py symbols` must refuse it although the
 * symbol is the project's own.
 */
int tidy_plant_real_env_now(void);
int tidy_plant_uses_real(void);

int tidy_plant_uses_real(void) { return tidy_plant_real_env_now() + 1; }

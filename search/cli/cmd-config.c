// qsearch config: the search configuration's defaults, its reference and a checker. The
// key table itself lives in the library (search/config-keys.def, search/config.c).
#include "cli.h"

#include "search/config.h"

int cli_cmd_config(const struct cli_args *args) {
    const char *check = args->config_check ? args->config_check : args->model;
    int modes = args->config_defaults + args->config_readme + (check != NULL);
    if (args->config_check && args->model)
        return cli_error(CLI_EXIT_USAGE, "unexpected argument '%s' (the file to check is "
                         "given by --check)", args->model);
    if (modes != 1)
        return cli_error(CLI_EXIT_USAGE, "'config' needs one of --defaults, --readme or "
                         "--check FILE (see 'qsearch config --help')");
    if (args->config_defaults)
        return qs__config_write_defaults(stdout) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    if (args->config_readme)
        return qs__config_write_readme(stdout) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;

    struct qs_search_config cfg;
    struct qs_diag diag = {{0}};
    enum qs_status st = qs__config_load(check, &cfg, &diag);
    if (!st) st = qs__config_validate(&cfg, &diag);
    if (!st) st = qs__config_check_files(&cfg, &diag);
    if (st) {
        qs__config_free(&cfg);
        return cli_fail(st, &diag, NULL);
    }
    char formula[512];
    qs__reward_formula(&cfg, formula, sizeof formula);
    printf("%s: ok\n  model: %s\n  algorithm: %s, %d episodes\n  reward: %s\n", check,
           cfg.model, qs__algo_name(cfg.algorithm), cfg.max_episode, formula);
    if (args->verbose) {
        printf("\n# the config as read (relative paths resolved, defaults filled in)\n");
        qs__config_write_yaml(&cfg, stdout, false);
    }
    qs__config_free(&cfg);
    return CLI_EXIT_OK;
}

// Internal API of the search configuration (search/config.c), driven by the one key table
// search/config-keys.def. Life cycle:
//
//     struct qs_search_config cfg;
//     struct qs_diag diag;
//     st = qs__config_load("run.yaml", &cfg, &diag);        // defaults, then the file
//     (or qs__config_embedded_default(&cfg, &diag) when no config is given)
//     st = qs__config_set(&cfg, "max_episode", "50", &diag); // CLI overrides, any order
//     st = qs__config_validate(&cfg, &diag);                 // cross-field checks, once
//     ... search ...
//     qs__config_free(&cfg);                                  // always, even after errors
//
// Every error message is one line. From a file it starts with "FILE:LINE:COLUMN: " (1-based
// line and column of the offending key or value); qs__config_validate names the file and
// the line of the key in question when the key came from a file. Statuses: PARSE for bad
// YAML, unknown keys and bad values; IO for a missing/unreadable file; INVALID_ARG for
// qs__config_set and qs__config_validate problems; NOMEM.
//
// Relative paths given in a file (model, data specs, eval_labels, lut, output_dir) are
// resolved against the folder of that file when it is loaded, so a run does not depend on
// the current directory; paths given through qs__config_set (CLI flags) and the defaults
// (output_dir) resolve against the current directory. Every path in a config is therefore
// absolute, and qs__config_write_yaml output reads back the same from any folder.
#pragma once

#include "search/search-impl.h"

#include <stdio.h>

// Sets every field to its default from the key table, freeing nothing: call it only on an
// uninitialised or freed config. NOMEM on allocation failure (cfg is then safe to free).
QS_INTERNAL enum qs_status qs__config_defaults(struct qs_search_config *cfg);

// Resets cfg to the defaults and applies the YAML file `path`. On failure cfg still holds
// a valid config that must be freed. Keys may be written in their section (objective:
// reward_type: ...) or at the top level (reward_type: ...); key names are unique.
QS_INTERNAL enum qs_status qs__config_load(const char *path, struct qs_search_config *cfg,
                                           struct qs_diag *diag);
// Same from a string held in memory; `name` is used in messages and its folder resolves
// relative paths (a bare name or NULL: the current directory; NULL is named "<string>").
QS_INTERNAL enum qs_status qs__config_load_string(const char *yaml, const char *name,
                                                  struct qs_search_config *cfg,
                                                  struct qs_diag *diag);

// Sets one key from a string written as in YAML ("50", "[8, 32]", "10m", "null"), with
// the key's checks; for CLI overrides. `key` is a key name ("reward_type") or
// "section.key" ("objective.reward_type"). The message names the key and the value:
// "max_episode: expects an integer in [1, 100000000], got 'x'".
QS_INTERNAL enum qs_status qs__config_set(struct qs_search_config *cfg, const char *key,
                                          const char *value, struct qs_diag *diag);

// Cross-field checks and final resolution (target "auto" -> the host's). Call once after
// load and overrides, before the search. Examples of refusals: no model; exhaustive search
// with a continuous sparsity range; latency in objective_keys, a latency threshold or a
// latency budget without a latency table; top1/top5 without eval_labels; external metric
// without eval_command; both calib_portion and calib_count given.
QS_INTERNAL enum qs_status qs__config_validate(struct qs_search_config *cfg,
                                               struct qs_diag *diag);

// Checks that the input files exist and are readable (model, the files of the data specs,
// eval_labels, lut); IO naming the key (FILE:LINE:COLUMN when it came from a file) and
// the path. For `qsearch config --check` and the start of a search.
QS_INTERNAL enum qs_status qs__config_check_files(const struct qs_search_config *cfg,
                                                  struct qs_diag *diag);

// Frees the owned strings and zeroes cfg; a zeroed or half-built config is accepted.
QS_INTERNAL void qs__config_free(struct qs_search_config *cfg);

// The config as one JSON object (every key, sectioned as in the YAML; unset values as
// null), for the config echo of results.json. No trailing newline. Returns 0 or EOF-like
// negative on a write error (ferror).
QS_INTERNAL int qs__config_write_json(const struct qs_search_config *cfg, FILE *f);
// The config as YAML that qs__config_load reads back to the same config (paths absolute
// when they were resolved). With `comments`, every key is preceded by its help line.
QS_INTERNAL int qs__config_write_yaml(const struct qs_search_config *cfg, FILE *f,
                                      bool comments);
// `qsearch config --defaults`: the complete commented YAML of the defaults.
QS_INTERNAL int qs__config_write_defaults(FILE *f);
// `qsearch config --readme`: configs/README.md, generated from the key table and the
// reward formulas (the test checks that the committed file is up to date).
QS_INTERNAL int qs__config_write_readme(FILE *f);

// The config `qsearch --objective compress_first` runs without a config file: the digits
// CNN shipped in configs/demo (calibrated on the first 100 of its 360 test images, searched
// on the other 260), small episode counts so that it ends in well under 2 minutes on one
// core. The demo folder is looked for, in order, in: $QSEARCH_DEMO_DIR; ./configs/demo;
// <executable>/../configs/demo and <executable>/../../configs/demo (build folders inside a
// clone); <executable>/../share/qsearch/demo (installed); the source tree this library was
// compiled from. IO with the list of places tried when none holds the model.
QS_INTERNAL enum qs_status qs__config_embedded_default(struct qs_search_config *cfg,
                                                       struct qs_diag *diag);

// The Rewards section of configs/README.md: every formula in words (search/reward.c).
QS_INTERNAL const char *qs__reward_doc(void);

// Names of enum values, as written in configs ("ddpg", "compress_first", "top1").
QS_INTERNAL const char *qs__algo_name(enum qs_algo a);
QS_INTERNAL const char *qs__reward_type_name(enum qs_reward_type r);
QS_INTERNAL const char *qs__eval_metric_name(enum qs_eval_metric m);

// The accuracy floor the reward and stop_early use: max(acc_threshold, acc_fp32 -
// max_acc_drop) over those set; -INFINITY when neither is set.
QS_INTERNAL double qs__config_acc_floor(const struct qs_search_config *cfg, double acc_fp32);

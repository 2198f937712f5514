// The command line itself: --help and --version, per-command help, and usage errors
// (unknown flags and commands, missing or bad values) exiting 2 with one line naming them.
#include "cli-test.h"

int main(void) {
    struct cli_run r = CLI_RUN("--help");
    CLI_EXPECT(r, r.code == 0);
    CLI_EXPECT(r, strstr(r.out, "usage: qsearch") && strstr(r.out, "inspect MODEL"));
    CLI_EXPECT(r, strstr(r.out, "eval MODEL") && strstr(r.out, "--version"));
    CLI_EXPECT(r, r.err[0] == 0);
    cli_run_free(&r);

    r = CLI_RUN("--version");
    CLI_EXPECT(r, r.code == 0 && strncmp(r.out, "qsearch ", 8) == 0);
    CLI_EXPECT(r, cli_count_lines(r.out) == 1 && r.err[0] == 0);
    cli_run_free(&r);

    r = CLI_RUN("eval", "--help");
    CLI_EXPECT(r, r.code == 0);
    CLI_EXPECT(r, strstr(r.out, "usage: qsearch eval MODEL") && strstr(r.out, "--inputs SPEC"));
    CLI_EXPECT(r, strstr(r.out, "--batch N") && strstr(r.out, "DATA SPECS"));
    CLI_EXPECT(r, strstr(r.out, "PREPROCESSING") && !strstr(r.out, "--raw"));
    cli_run_free(&r);

    r = CLI_RUN("inspect", "-h");
    CLI_EXPECT(r, r.code == 0);
    CLI_EXPECT(r, strstr(r.out, "usage: qsearch inspect MODEL") && strstr(r.out, "--raw"));
    CLI_EXPECT(r, !strstr(r.out, "--inputs"));
    cli_run_free(&r);

    // Usage errors: exit 2 and one line naming what was wrong.
    r = CLI_RUN("--bogus");
    CLI_EXPECT_ERROR(r, 2, "'--bogus'");
    cli_run_free(&r);
    r = CLI_RUN("eval", "m.onnx", "--inputs", "x.npy", "--frobnicate=3");
    CLI_EXPECT_ERROR(r, 2, "'--frobnicate'");
    cli_run_free(&r);
    r = CLI_RUN("inspect", "-Z", "m.onnx");
    CLI_EXPECT_ERROR(r, 2, "'-Z'");
    cli_run_free(&r);
    r = CLI_RUN("frobnicate");
    CLI_EXPECT_ERROR(r, 2, "'frobnicate'");
    cli_run_free(&r);
    r = CLI_RUN("eval", "m.onnx", "--inputs");
    CLI_EXPECT_ERROR(r, 2, "'--inputs'");
    cli_run_free(&r);
    r = CLI_RUN("eval", "m.onnx", "--inputs", "x.npy", "--batch", "zero");
    CLI_EXPECT_ERROR(r, 2, "'--batch'");
    cli_run_free(&r);
    r = CLI_RUN("eval", "m.onnx", "-i", "x.npy", "-b0");
    CLI_EXPECT_ERROR(r, 2, "'-b'");
    cli_run_free(&r);
    r = CLI_RUN("inspect", "--batch", "4", "m.onnx");
    CLI_EXPECT_ERROR(r, 2, "'--batch'");
    cli_run_free(&r);
    r = CLI_RUN("eval", "m.onnx");
    CLI_EXPECT_ERROR(r, 2, "--inputs");
    cli_run_free(&r);
    r = CLI_RUN("inspect");
    CLI_EXPECT_ERROR(r, 2, "MODEL");
    cli_run_free(&r);
    r = CLI_RUN("inspect", "a.onnx", "b.onnx");
    CLI_EXPECT_ERROR(r, 2, "'b.onnx'");
    cli_run_free(&r);
    r = CLI_RUN("--quiet", "--verbose", "inspect", "a.onnx");
    CLI_EXPECT_ERROR(r, 2, "--quiet");
    cli_run_free(&r);
    // No command at all is a usage error too, pointing at --help.
    r = CLI_RUN("-q");
    CLI_EXPECT(r, r.code == 2);
    cli_run_free(&r);
    return 0;
}

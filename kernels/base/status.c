#include "kernels/internal.h"

#include <assert.h>
#include <string.h>

static const char *const status_names[] = {
#define QS_XX(name, msg) "QS_STATUS_" #name,
    QS_STATUS_MAP(QS_XX)
#undef QS_XX
};
static const char *const status_msgs[] = {
#define QS_XX(name, msg) msg,
    QS_STATUS_MAP(QS_XX)
#undef QS_XX
};
static_assert(QS_COUNTOF(status_names) == QS_STATUS_COUNT, "status table out of sync");

const char *qs_status_name(enum qs_status s) {
    return (unsigned)s < QS_STATUS_COUNT ? status_names[s] : "QS_STATUS_UNKNOWN";
}

const char *qs_status_str(enum qs_status s) {
    return (unsigned)s < QS_STATUS_COUNT ? status_msgs[s] : "unknown status";
}

size_t qs_dtype_size(enum qs_dtype d) {
    switch (d) {
#define QS_XX(name, code, str, size) case QS_DTYPE_##name: return size;
        QS_DTYPE_MAP(QS_XX)
#undef QS_XX
    }
    return 0;
}

const char *qs_dtype_name(enum qs_dtype d) {
    switch (d) {
#define QS_XX(name, code, str, size) case QS_DTYPE_##name: return str;
        QS_DTYPE_MAP(QS_XX)
#undef QS_XX
    }
    return "unknown";
}

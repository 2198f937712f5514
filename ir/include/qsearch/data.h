// qsearch/data.h: loading arrays (inputs, labels) from files, preprocessing them into a
// model's input buffers, and batching.
//
// Overview
//   A `struct qs_array` is a dense, C-ordered, little-endian array that owns its data. The
//   loaders read NumPy .npy, ONNX TensorProto .pb, MNIST IDX, CIFAR-10 binary and raw typed
//   files; `qs_array_load` picks one from a user-facing *spec* string (see below). Every
//   loader reads gzip-compressed files transparently. On failure a loader returns a status
//   and fills `diag` with one line "'path': problem".
//
//   A `struct qs_dataset` holds one array per model input plus optional labels, all with
//   the same number of samples N (the first dimension). `qs_dataset_fill` writes samples
//   [begin, begin + count) of one input, converted and preprocessed, straight into a session
//   input buffer; batches cover the first dimension and the last one may be partial.
//
//       struct qs_diag diag;
//       struct qs_dataset ds;
//       const char *inputs[] = {"cifar10:test_batch.bin"};
//       if (qs_dataset_load(&ds, inputs, 1, "cifar10-labels:test_batch.bin", &diag)) ...
//       struct qs_preprocess pp;
//       qs_preprocess_parse("imagenet", &pp, &diag);   // x/255, mean/std per channel
//       struct qs_tensor_info in;
//       qs_session_input_info(s, 0, &in);              // e.g. float32 [32,3,32,32]
//       for (int64_t b = 0; b < qs_dataset_batch_count(&ds, in.dims[0]); b++) {
//           int64_t begin, count;
//           qs_dataset_batch_range(&ds, in.dims[0], b, &begin, &count);
//           if (qs_dataset_fill(&ds, 0, &pp, begin, count, &in,
//                               qs_session_input_data(s, 0), &diag)) ...
//           qs_session_run(s, &diag);   // rows [count, in.dims[0]) were zeroed
//           ... compare outputs with ds.labels.data[begin .. begin + count) ...
//       }
//       qs_dataset_free(&ds);
//
// Spec syntax (what `--inputs` and `--labels` take)
//   PATH.npy                 NumPy array (.npy, format 1.0/2.0/3.0), any numeric dtype, C order.
//   PATH.pb                  ONNX TensorProto (as in ONNX test_data_set_N/input_M.pb).
//   PATH*ubyte, PATH.idx     MNIST IDX file, e.g. t10k-images-idx3-ubyte.gz (the format is
//                            picked when the name, without .gz, ends in "ubyte" or ".idx").
//   cifar10:PATH             CIFAR-10 binary (records of 1 label byte + 3072 pixel bytes):
//                            the images, uint8 [N,3,32,32] (RGB planes, NCHW).
//   cifar10-labels:PATH      the labels of the same file, uint8 [N].
//   raw:PATH:DTYPE:SHAPE     headerless little-endian data, e.g.
//                            raw:digits_test_x.f32:float32:360x1x8x8 or
//                            raw:val100_rgb_224x224_nhwc.u8:uint8:-1x224x224x3.
//   PATH:DTYPE:SHAPE         the same without "raw:" (taken as raw only when DTYPE is a
//                            known dtype name), e.g. x.u8:uint8:10000x14x14.
//   raw:PATH:DTYPE           raw 1-D array (labels), e.g. val100_labels.u16:uint16.
//   npy:PATH, pb:PATH, idx:PATH force a format whatever the name.
//   DTYPE is a dtype name ("float32", "uint8", "int64", ... as qs_dtype_name prints them) or
//   a short form (f16, bf16, f32, f64, i8, u8, i16, u16, i32, u32, i64, u64, bool). SHAPE
//   is dims joined by 'x' (or ','); at most one may be -1, meaning "whatever the file size
//   gives". Any of these files may be gzip-compressed.
//
// Preprocessing syntax (qs_preprocess_parse)
//   A comma-separated list, applied left to right (later items override earlier ones):
//     scale=S          multiply every value by S first; S may be a fraction ("1/255").
//     mean=M[:M...]    subtract per channel after scaling (1 value = every channel).
//     std=S[:S...]     then divide per channel (values must be non-zero).
//     layout=nhwc      the data's samples are [H,W,C]; they are transposed to [C,H,W].
//     layout=nchw      the data is already channel-first (the default).
//     bgr              reverse the channel order (exchange channels 0 and 2: RGB <-> BGR).
//     rgb              keep the channel order (the default).
//     none             identity (the default for an empty string).
//     imagenet         = scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225
//                        (torchvision models, also the CIFAR-10 ResNets in shared data).
//     caffe            = bgr,mean=104:117:123 (Caffe models, e.g. SqueezeNet 1.1).
//   Each output value is y = (x * scale - mean[c]) / std[c], computed in float32, where c
//   is the channel of y in the *model's* order: mean and std are listed in the order the
//   model expects, after any bgr swap. The channel axis is dim 1 of the model input.
//   Example: "caffe,layout=nhwc" feeds uint8 RGB NHWC images to a BGR NCHW Caffe model.
//
// Thread safety: every function here is reentrant; distinct objects may be used from
// different threads at the same time.
#pragma once

#include "qsearch/common.h"
#include "qsearch/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A dense array in C (row-major) order with host-endian (little-endian) elements.
/// The struct is caller storage; `data` is owned by it and freed by qs_array_free.
/// A zeroed struct is a valid empty array (rank 0, data NULL) that qs_array_free accepts.
struct qs_array {
    enum qs_dtype dtype;
    int rank;                     ///< 0 for a scalar (one element)
    int64_t dims[QS_MAX_RANK];    ///< dims[rank..] are 0
    void *data;                   ///< nbytes bytes, allocated with the qsearch allocator
    size_t nbytes;                ///< numel * qs_dtype_size(dtype)
};

/// Frees the data of `a` (NULL and zeroed structs are accepted) and zeroes the struct.
QS_API void qs_array_free(struct qs_array *a);

/// Number of elements: the product of dims (1 for rank 0).
QS_API int64_t qs_array_numel(const struct qs_array *a);

/// Allocates a zero-filled array of the given dtype and shape into `a_out`.
/// @param dims  `rank` non-negative dims (rank 0..QS_MAX_RANK); not kept.
/// @retval QS_STATUS_INVALID_ARG  bad dtype (UNDEFINED, STRING) or rank or a negative dim.
/// @retval QS_STATUS_NOMEM        allocation failed or the size overflows.
QS_API enum qs_status qs_array_alloc(struct qs_array *a_out, enum qs_dtype dtype, int rank,
                                     const int64_t *dims, struct qs_diag *diag);

/// Loads a NumPy .npy file (versions 1.0, 2.0 and 3.0). Accepted dtypes: bool, int8..int64,
/// uint8..uint64, float16, float32, float64, in either byte order (big-endian data is
/// swapped on load). `*a_out` receives an owned array; it is untouched on failure.
/// @retval QS_STATUS_IO           missing or unreadable file.
/// @retval QS_STATUS_PARSE        not a .npy file, bad header, truncated data or bytes
///                                after the data, corrupt gzip data.
/// @retval QS_STATUS_UNSUPPORTED  Fortran order (rank >= 2), object, string, complex,
///                                structured or other dtypes without a qsearch equivalent.
/// @retval QS_STATUS_NOMEM        allocation failed.
QS_API enum qs_status qs_array_load_npy(const char *path, struct qs_array *a_out,
                                        struct qs_diag *diag);

/// Writes `a` as a NumPy .npy file (format 1.0, C order, little-endian, the same bytes
/// numpy.save writes). The data goes to a temporary file beside `path` that is renamed
/// over `path` only when everything was written, so a failure never leaves a partial
/// file. `a` is not modified and not kept.
/// @retval QS_STATUS_INVALID_ARG  `a` is inconsistent (nbytes does not match the shape).
/// @retval QS_STATUS_UNSUPPORTED  bfloat16, string or undefined dtype (numpy has none).
/// @retval QS_STATUS_IO           the file could not be created, written or renamed.
QS_API enum qs_status qs_array_save_npy(const char *path, const struct qs_array *a,
                                        struct qs_diag *diag);

/// Loads a serialized ONNX TensorProto (any of its typed fields or raw_data).
/// @retval QS_STATUS_IO           missing or unreadable file.
/// @retval QS_STATUS_PARSE        not a TensorProto, truncated, or the number of values
///                                does not match the dims.
/// @retval QS_STATUS_UNSUPPORTED  string or complex data, external data, rank > QS_MAX_RANK.
/// @retval QS_STATUS_NOMEM        allocation failed.
QS_API enum qs_status qs_array_load_pb(const char *path, struct qs_array *a_out,
                                       struct qs_diag *diag);

/// Loads an IDX file (the MNIST format: magic 0x00 0x00 TYPE RANK, big-endian uint32 dims,
/// big-endian data), gzip-compressed or not. Types: uint8, int8, int16, int32, float32,
/// float64. Statuses as qs_array_load_npy (PARSE for a bad magic or element type, a
/// truncated file or bytes after the data; UNSUPPORTED for rank > QS_MAX_RANK).
QS_API enum qs_status qs_array_load_idx(const char *path, struct qs_array *a_out,
                                        struct qs_diag *diag);

/// Loads a CIFAR-10 binary file: N records of 1 label byte + 3072 pixel bytes (1024 R,
/// 1024 G, 1024 B, each plane 32x32 row-major). With `labels` false the result is the
/// images, uint8 [N,3,32,32]; with `labels` true the labels, uint8 [N].
/// @retval QS_STATUS_PARSE  empty file, a size that is not a multiple of 3073 bytes, or a
///                          label above 9 (not CIFAR-10 data, e.g. CIFAR-100 records).
/// Other statuses as qs_array_load_npy.
QS_API enum qs_status qs_array_load_cifar10(const char *path, bool labels,
                                            struct qs_array *a_out, struct qs_diag *diag);

/// Loads a headerless file of little-endian `dtype` elements with the given shape.
/// @param dims  `rank` dims (1..QS_MAX_RANK), not kept; at most one may be -1, which is
///              computed from the file size. Every other dim must be positive.
/// @retval QS_STATUS_INVALID_ARG  bad dtype, rank or dims.
/// @retval QS_STATUS_PARSE        empty file, a file size that does not match the shape
///                                (truncated or too long), corrupt gzip data.
/// Other statuses as qs_array_load_npy.
QS_API enum qs_status qs_array_load_raw(const char *path, enum qs_dtype dtype, int rank,
                                        const int64_t *dims, struct qs_array *a_out,
                                        struct qs_diag *diag);

/// Loads an array from a spec string (see "Spec syntax" at the top of this file).
/// A spec that cannot be understood gives QS_STATUS_INVALID_ARG with a message naming the
/// spec; file problems give the statuses of the loader that was chosen.
QS_API enum qs_status qs_array_load(const char *spec, struct qs_array *a_out,
                                    struct qs_diag *diag);

/// Converts class labels to int64 [N]. `src` may have any integer or bool dtype, or a float
/// dtype whose values are all whole numbers; its shape must be [N] or [N,1] (rank 0 counts
/// as [1]). Values must be >= 0; the range check against the number of classes is the
/// caller's. `name` (may be NULL) is used in messages. `*labels_out` receives an owned
/// array; `src` is not modified.
/// @retval QS_STATUS_INVALID_ARG  wrong shape, negative or fractional values.
/// @retval QS_STATUS_NOMEM        allocation failed.
QS_API enum qs_status qs_array_to_labels(const struct qs_array *src, const char *name,
                                         struct qs_array *labels_out, struct qs_diag *diag);

/// Most per-channel values that mean= and std= accept.
#define QS_PREPROCESS_MAX_CHANNELS 16

/// How raw data is turned into model input values. Start from qs_preprocess_default()
/// (the identity) or qs_preprocess_parse(); see "Preprocessing syntax" above.
struct qs_preprocess {
    float scale;                              ///< multiplier applied first (1 = none)
    int mean_count;                           ///< 0 = no mean, 1 = same for all channels
    float mean[QS_PREPROCESS_MAX_CHANNELS];   ///< in the model's channel order
    int std_count;                            ///< 0 = no std, 1 = same for all channels
    float std[QS_PREPROCESS_MAX_CHANNELS];    ///< non-zero; in the model's channel order
    bool nhwc_to_nchw;                        ///< source samples are [H,W,C]
    bool swap_rb;                             ///< exchange channels 0 and 2 (RGB <-> BGR)
};

/// The identity: scale 1, no mean or std, no layout change, no swap.
QS_API struct qs_preprocess qs_preprocess_default(void);

/// True when `pp` (NULL counts as identity) changes neither values nor layout.
QS_API bool qs_preprocess_is_identity(const struct qs_preprocess *pp);

/// Parses a preprocessing string (see "Preprocessing syntax"). NULL and "" give the
/// identity. `*pp_out` is written only on success.
/// @retval QS_STATUS_PARSE  unknown item, bad number, too many channel values, zero std.
QS_API enum qs_status qs_preprocess_parse(const char *str, struct qs_preprocess *pp_out,
                                          struct qs_diag *diag);

/// Writes the canonical string of `pp` into `buf` of `size` bytes (truncated if needed, always
/// NUL-terminated when size > 0) and returns `buf`. The string parses back to exactly the
/// same settings; numbers take their shortest exact form, e.g. "imagenet" formats as
/// "scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225"; the identity is "none".
QS_API char *qs_preprocess_format(const struct qs_preprocess *pp, char *buf, size_t size);

/// Checks that samples of `src` (its dims[1..] form one sample), preprocessed by `pp`,
/// can feed a model input of shape `target` (dims[0] = batch capacity, dims[1..] = one
/// sample), without touching data. A sample fits when its shape equals the model's sample
/// shape once dims of size 1 are ignored (so [28,28] feeds [N,1,28,28]), or when the
/// model's sample is 1-D with the same element count (flattening). With layout=nhwc the
/// transposed sample [C,H,W] must equal the model's [C,H,W] exactly (or be flattened), so
/// that channel-first data given nhwc by mistake is refused rather than scrambled.
/// `pp` may be NULL (identity); `src_name` (may be NULL) names the data in
/// messages, e.g. "'x.npy': sample shape [3,32,32] does not match model input 'input'
/// [1,1,28,28]".
/// @retval QS_STATUS_INVALID_ARG  shapes do not fit, nhwc on a sample that is not [H,W,C],
///                                bgr with other than 3 channels, mean/std counts that are
///                                neither 1 nor the channel count, scale/mean/std on a
///                                non-float model input, float data for an integer input,
///                                or a target dtype that cannot be fed.
QS_API enum qs_status qs_preprocess_check(const struct qs_preprocess *pp,
                                          const struct qs_array *src, const char *src_name,
                                          const struct qs_tensor_info *target,
                                          struct qs_diag *diag);

/// Writes samples [begin, begin + count) of `src`, converted to target->dtype and
/// preprocessed by `pp` (NULL = identity), to `dst` laid out as the model input `target`
/// (typically qs_session_input_info and qs_session_input_data). Rows [count, dims[0]) of
/// `dst` are zeroed so that a partial last batch runs on defined data. Supported target
/// dtypes: float32 and float64 (from any numeric source), and the integer types and bool
/// (from integer or bool sources only, each value range-checked, no scale/mean/std; e.g.
/// int64 token ids). Does not allocate.
/// `dst` must hold target->dims[0] samples; it is not kept.
/// @retval QS_STATUS_INVALID_ARG  as qs_preprocess_check, count > target->dims[0], the
///                                range outside [0, N), or an integer value that does not
///                                fit the target dtype.
QS_API enum qs_status qs_preprocess_apply(const struct qs_preprocess *pp,
                                          const struct qs_array *src, const char *src_name,
                                          int64_t begin, int64_t count,
                                          const struct qs_tensor_info *target, void *dst,
                                          struct qs_diag *diag);

/// Most model inputs a dataset holds.
#define QS_DATASET_MAX_INPUTS 8

/// Samples for a model: one array per model input, all with the same first dimension,
/// plus optional labels. Caller storage; everything it points to is owned by it and freed
/// by qs_dataset_free. A zeroed struct is valid and empty.
struct qs_dataset {
    int n_inputs;
    struct qs_array inputs[QS_DATASET_MAX_INPUTS];  ///< each of rank >= 1
    char *input_names[QS_DATASET_MAX_INPUTS];       ///< the file path of each input
    struct qs_array labels;  ///< int64 [count]; data NULL (rank 0) when no labels were given
    char *labels_name;       ///< file path of the labels, or NULL
    int64_t count;           ///< N, the number of samples
};

/// Loads `n_inputs` input arrays from specs (see "Spec syntax") and, when `labels_spec`
/// is not NULL, labels converted by qs_array_to_labels. `*ds_out` is written only on
/// success; `input_specs` is not kept.
/// @retval QS_STATUS_INVALID_ARG  n_inputs outside 1..QS_DATASET_MAX_INPUTS, a rank-0
///                                input, no samples, or arrays whose first dims differ
///                                (the message names both files and their counts).
/// Other statuses from qs_array_load and qs_array_to_labels.
QS_API enum qs_status qs_dataset_load(struct qs_dataset *ds_out,
                                      const char *const *input_specs, int n_inputs,
                                      const char *labels_spec, struct qs_diag *diag);

/// Frees everything `ds` owns and zeroes it (NULL and zeroed structs are accepted).
QS_API void qs_dataset_free(struct qs_dataset *ds);

/// Number of batches of `batch` samples (> 0) that cover the dataset; the last one holds
/// count % batch samples when that is not zero. 0 for batch <= 0.
QS_API int64_t qs_dataset_batch_count(const struct qs_dataset *ds, int64_t batch);

/// First sample and number of samples of batch `index` (0 <= index < batch_count):
/// begin = index * batch, count = min(batch, N - begin). Outside that range both are 0.
QS_API void qs_dataset_batch_range(const struct qs_dataset *ds, int64_t batch, int64_t index,
                                   int64_t *begin_out, int64_t *count_out);

/// qs_preprocess_apply on input `i` of `ds`, with its file name in messages.
/// @retval QS_STATUS_INVALID_ARG  bad `i`, or as qs_preprocess_apply.
QS_API enum qs_status qs_dataset_fill(const struct qs_dataset *ds, int i,
                                      const struct qs_preprocess *pp, int64_t begin,
                                      int64_t count, const struct qs_tensor_info *target,
                                      void *dst, struct qs_diag *diag);

#ifdef __cplusplus
}
#endif

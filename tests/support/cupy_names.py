"""CuPy's public names, for the stand-in's namespace test (tests/gpu/test_standin.py).

Taken from CuPy v13.6.0 (github.com/cupy/cupy, tag v13.6.0): the names bound at the top level of
cupy/__init__.py (with NumPy >= 2, so without the names only defined for NumPy < 2), cupy/random/__init__.py,
cupy/cuda/__init__.py and cupyx/__init__.py; the methods and attributes of cupy.ndarray (cupy/_core/core.pyx,
class _ndarray_base) and of cupy.random.Generator (cupy/random/_generator_api.pyx); the cupy.cuda.runtime
functions the stand-in offers (cupy_backends/cuda/api/runtime.pyx). The stand-in may offer fewer names,
never another one.
"""

CUPY_VERSION = "13.6.0"


# cupy.*
CUPY = frozenset("""
    AxisError ComplexWarning ElementwiseKernel Inf Infinity ModuleDeprecationWarning NAN NINF NZERO NaN PINF
    PZERO RankWarning RawKernel RawModule ReductionKernel TooHardError VisibleDeprecationWarning abs absolute
    add all allclose alltrue amax amin angle any append apply_along_axis arange arccos arccosh arcsin arcsinh
    arctan arctan2 arctanh argmax argmin argpartition argsort argwhere around array array2string array_equal
    array_equiv array_repr array_split array_str asanyarray asarray asarray_chkfinite ascontiguousarray
    asfarray asfortranarray asnumpy atleast_1d atleast_2d atleast_3d average bartlett base_repr binary_repr
    bincount bitwise_and bitwise_not bitwise_or bitwise_xor blackman bool_ broadcast broadcast_arrays
    broadcast_shapes broadcast_to byte byte_bounds c_ can_cast cbrt cdouble ceil cfloat choose clear_memo clip
    column_stack common_type complex128 complex64 complex_ complexfloating compress concatenate conj conjugate
    convolve copy copysign copyto corrcoef correlate cos cosh count_nonzero cov cross csingle cuda cumprod
    cumproduct cumsum deg2rad degrees delete diag diag_indices diag_indices_from diagflat diagonal diff
    digitize disable_experimental_feature_warning divide divmod dot double dsplit dstack dtype e ediff1d
    einsum empty empty_like equal euler_gamma exp exp2 expand_dims expm1 extract eye fabs fft fill_diagonal
    finfo fix flatiter flatnonzero flip fliplr flipud float16 float32 float64 float_ float_power floating
    floor floor_divide fmax fmin fmod format_float_positional format_float_scientific frexp fromDlpack
    from_dlpack frombuffer fromfile fromfunction fromiter fromstring full full_like fuse gcd generic
    genfromtxt get_array_module get_default_memory_pool get_default_pinned_memory_pool get_printoptions
    gradient greater greater_equal half hamming hanning heaviside histogram histogram2d histogramdd hsplit
    hstack hypot i0 identity iinfo imag in1d index_exp indices inexact inf infty inner int16 int32 int64 int8
    int_ intc integer interp intersect1d intp invert is_available isclose iscomplex iscomplexobj isfinite
    isfortran isin isinf isnan isneginf isposinf isreal isrealobj isscalar issctype issubclass_ issubdtype
    issubsctype iterable ix_ kaiser kron lcm ldexp left_shift less less_equal lexsort linalg linspace load
    loadtxt log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or logical_xor logspace
    longlong mask_indices matmul max maximum may_share_memory mean median memoize meshgrid mgrid min
    min_scalar_type minimum mintypecode mod modf moveaxis msort multiply nan nan_to_num nanargmax nanargmin
    nancumprod nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar ndarray ndim ndindex
    negative newaxis nextafter nonzero not_equal number obj2sctype ogrid ones ones_like outer packbits pad
    partition percentile pi piecewise place poly poly1d polyadd polyfit polymul polynomial polysub polyval
    positive power printoptions prod product promote_types ptp put putmask quantile r_ rad2deg radians random
    ravel ravel_multi_index real real_if_close reciprocal remainder repeat require reshape resize result_type
    right_shift rint roll rollaxis roots rot90 round round_ row_stack s_ save savetxt savez savez_compressed
    sctype2char searchsorted select set_printoptions setdiff1d setxor1d shape shares_memory short show_config
    sign signbit signedinteger sin sinc single singlecomplex sinh size sometrue sort sort_complex sparse split
    sqrt square squeeze stack std subtract sum swapaxes take take_along_axis tan tanh tensordot testing tile
    trace transpose trapz tri tril tril_indices tril_indices_from trim_zeros triu triu_indices
    triu_indices_from true_divide trunc typename ubyte ufunc uint uint16 uint32 uint64 uint8 uintc uintp
    ulonglong union1d unique unpackbits unravel_index unsignedinteger unwrap ushort vander var vdot vectorize
    vsplit vstack where who zeros zeros_like
""".split())

# cupy.random.*
CUPY_RANDOM = frozenset("""
    BitGenerator Generator MRG32k3a Philox4x3210 RandomState XORWOW beta binomial bytes chisquare choice
    default_rng dirichlet exponential f gamma geometric get_random_state gumbel hypergeometric laplace
    logistic lognormal logseries multinomial multivariate_normal negative_binomial noncentral_chisquare
    noncentral_f normal pareto permutation poisson power rand randint randn random random_integers
    random_sample ranf rayleigh reset_states sample seed set_random_state shuffle standard_cauchy
    standard_exponential standard_gamma standard_normal standard_t triangular uniform vonmises wald weibull
    zipf
""".split())

# cupy.cuda.*
CUPY_CUDA = frozenset("""
    BaseMemory CFunctionAllocator Device Event ExternalStream Function Graph ManagedMemory Memory MemoryAsync
    MemoryAsyncPool MemoryHook MemoryPointer MemoryPool Module PinnedMemory PinnedMemoryPointer
    PinnedMemoryPool PythonFunctionAllocator Stream UnownedMemory alloc alloc_pinned_memory compiler cub
    device driver function get_allocator get_cublas_handle get_cuda_path get_current_stream get_device_id
    get_elapsed_time get_hipcc_path get_local_runtime_version get_nvcc_path get_rocm_path is_available
    malloc_async malloc_managed memory memory_hook memory_hooks nvrtc nvtx pinned_memory profile profiler
    runtime set_allocator set_pinned_memory_allocator stream texture thrust using_allocator
""".split())

# cupy.cuda.runtime.* (those the stand-in has; all exist in CuPy)
CUPY_CUDA_RUNTIME = frozenset("""
    deviceSynchronize getDevice getDeviceCount memGetInfo setDevice
""".split())

# cupyx.*
CUPYX = frozenset("""
    DeviceSynchronized GeneralizedUFunc allow_synchronize empty_like_pinned empty_pinned errstate
    get_runtime_info geterr linalg optimizing rsqrt scatter_add scatter_max scatter_min scipy seterr time
    zeros_like_pinned zeros_pinned
""".split())

# cupy.ndarray's public methods and attributes
NDARRAY = frozenset("""
    T all any argmax argmin argpartition argsort astype base choose clip compress conj conjugate copy cstruct
    cumprod cumsum data device diagonal dot dtype dump dumps fill flags flat flatten get imag item itemsize
    max mean min nbytes ndim nonzero partition prod ptp put ravel real reduced_view repeat reshape round
    scatter_add scatter_max scatter_min searchsorted set shape size sort squeeze std strides sum swapaxes take
    toDlpack tobytes tofile tolist trace transpose var view
""".split())

# cupy.random.Generator's public methods and attributes
GENERATOR = frozenset("""
    beta binomial bit_generator chisquare dirichlet exponential f gamma geometric hypergeometric integers
    logseries poisson power random standard_exponential standard_gamma standard_normal uniform
""".split())

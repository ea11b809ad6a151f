"""Procedural 3-D scenes with every per-pixel label a lecture task needs.

Each scene is a tilted ground plane with 2-4 solid objects (sphere, box, cylinder, pyramid) standing
on it, ray-cast per pixel (a z-buffer resolves occlusion) and shaded by one fixed light. Colours and
textures of the ground and of every object come from the same distribution, so a pixel's class can
only be told from shape and context, never from its colour.

Camera (every geometric label uses it):

* orthographic, looking along -z; camera coordinates are x right, y up, z towards the camera;
* the shorter image side spans 2 world units, so one pixel is ``pitch = 2 / min(H, W)`` units;
  pixel ``(row, col)`` sees the ray ``X = (col - (W-1)/2) * pitch``, ``Y = ((H-1)/2 - row) * pitch``;
* ``depth`` is the distance along the viewing direction (``-Z``), always > 0;
* ``normals`` are outward unit surface normals in camera coordinates (z > 0 faces the camera), so
  on a surface ``depth(X, Y)`` the normal is ``(dD/dX, dD/dY, 1)`` normalised (:func:`normals_from_depth`).

Keypoints are ``(x, y)`` in pixel coordinates (x = column, y = row, pixel centres at integers).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import backend
from ..backend import Array
from ..constants import IGNORE_INDEX
from ..tensor import Tensor

CLASSES = ("background", "sphere", "box", "cylinder", "pyramid")
NUM_CLASSES = len(CLASSES)
KEYPOINT_TYPES = ("centre", "corner")
TASKS = ("segmentation", "depth", "normals", "keypoints", "sketch2image", "autoencode")
MAX_OBJECTS = 4
KEYPOINTS_PER_OBJECT = 9          # the centre and up to 8 corners (a box)
MAX_KEYPOINTS = MAX_OBJECTS * KEYPOINTS_PER_OBJECT
LIGHT = np.array([-0.45, 0.75, 0.5]) / np.linalg.norm([-0.45, 0.75, 0.5])
_CHUNK = 128                      # samples rendered at once (bounds the memory of the temporaries)

A = NDArray[Any]                  # the arrays of the geometry below (shapes in the docstrings)
Params = dict[str, Any]           # the random numbers of a batch of scenes (_draw_parameters)


def _size_arg(fname: str, size: int | tuple[int, int]) -> tuple[int, int]:
    """An int or (H, W) of ints >= 8 -> (H, W)."""
    hw = (size, size) if isinstance(size, (int, np.integer)) and not isinstance(size, bool) else size
    if (not isinstance(hw, (tuple, list)) or len(hw) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in hw)):
        raise TypeError(f"{fname}: size must be an int or a pair (H, W) of ints, got {size!r}")
    if min(hw) < 8:
        raise ValueError(f"{fname}: size must be at least 8 pixels on each side, got {size!r}")
    return int(hw[0]), int(hw[1])


def _count_arg(fname: str, name: str, n: int) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"{fname}: {name} must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{fname}: {name} must be at least 1, got {n}")
    return int(n)


def pixel_grid(H: int, W: int) -> tuple[A, A, float]:
    """Camera X (1, 1, W) and Y (1, H, 1) of each pixel's ray, and the pixel pitch in world units."""
    pitch = 2.0 / min(H, W)
    X = (np.arange(W) - (W - 1) / 2) * pitch
    Y = ((H - 1) / 2 - np.arange(H)) * pitch
    return X[None, None, :], Y[None, :, None], pitch


def normals_from_depth(depth: ArrayLike) -> NDArray[np.float32]:
    """Unit normals (N, 3, H, W) of a depth map (N, 1, H, W) or (N, H, W), by central differences.

    Uses the camera of this module; border pixels use one-sided differences. On a plane the result
    is exact up to rounding; across an occlusion boundary it is meaningless.
    """
    d = np.asarray(depth, dtype=np.float64)
    if d.ndim == 4 and d.shape[1] == 1:
        d = d[:, 0]
    if d.ndim != 3:
        raise ValueError(f"normals_from_depth: depth must be (N, 1, H, W) or (N, H, W), got shape {d.shape}")
    pitch = 2.0 / min(d.shape[1:])
    d_col = np.gradient(d, axis=2) / pitch          # dD/dX: columns go right, like X
    d_row = -np.gradient(d, axis=1) / pitch         # dD/dY: rows go down, Y goes up
    n = np.stack([d_col, d_row, np.ones_like(d)], axis=1)
    return (n / np.linalg.norm(n, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------- random parameters
def _hsv_to_rgb(h: A, s: A, v: A) -> A:
    """Vectorised HSV -> RGB for arrays of the same shape (all in [0, 1]); returns (..., 3)."""
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6) % 6
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def _horizontal(u: A, phi: A) -> A:
    """Unit vectors perpendicular to the up vectors u (m, 3), at angles phi (m,) around them."""
    e1 = np.array([1.0, 0.0, 0.0])                   # u has no x component, so e1 is perpendicular
    e2 = np.cross(u, e1)
    return np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2


#: With colours="by_class" each class has its own hue (the ground included): used by sketch2image,
#: where the sketch shows shapes only and the colours must follow from what the shapes are.
CLASS_HUES = (0.30, 0.0, 0.58, 0.12, 0.80)


def _draw_parameters(n: int, H: int, W: int, rng: np.random.Generator, colours: str = "random") -> Params:
    """Every random number of n scenes, drawn in a fixed order (so a seed fixes the scenes)."""
    p: Params = {}
    # The camera sits at a nearly fixed height and tilt (as on a robot): with an orthographic camera
    # nothing in the image tells the ground's distance, so a wide range would make depth unlearnable.
    p["d0"] = rng.uniform(4.4, 4.6, n)                        # ground depth at Y = 0
    p["slope"] = rng.uniform(0.9, 1.1, n)                     # dDepth/dY: farther towards the top
    p["count"] = rng.integers(2, MAX_OBJECTS + 1, n)
    p["shape"] = rng.integers(1, NUM_CLASSES, (n, MAX_OBJECTS))
    p["phi"] = rng.uniform(0, 2 * np.pi, (n, MAX_OBJECTS))
    p["s1"] = rng.uniform(0, 1, (n, MAX_OBJECTS))             # size parameters, scaled per shape
    p["s2"] = rng.uniform(0, 1, (n, MAX_OBJECTS))
    # bases: best-of-8 candidates (the one farthest from the bases already placed) spreads objects out
    xr, yr = W / min(H, W), H / min(H, W)
    cand = np.stack([rng.uniform(-0.78 * xr, 0.78 * xr, (n, MAX_OBJECTS, 8)),
                     rng.uniform(-0.85 * yr, 0.45 * yr, (n, MAX_OBJECTS, 8))], axis=-1)
    bases = np.zeros((n, MAX_OBJECTS, 2))
    bases[:, 0] = cand[:, 0, 0]
    for j in range(1, MAX_OBJECTS):
        dist = np.linalg.norm(cand[:, j, :, None, :] - bases[:, None, :j, :], axis=-1).min(axis=2)
        bases[:, j] = cand[np.arange(n), j, dist.argmax(axis=1)]
    p["base"] = bases
    surfaces = 1 + MAX_OBJECTS                                # the ground, then the objects
    hue, sat, val = rng.uniform(0, 1, (n, surfaces)), rng.uniform(0.2, 0.85, (n, surfaces)), \
        rng.uniform(0.55, 1.0, (n, surfaces))
    if colours == "by_class":   # the same draws, narrowed around each class's own colour
        surface_class = np.concatenate([np.zeros((n, 1), dtype=int), p["shape"]], axis=1)
        hue = (np.asarray(CLASS_HUES)[surface_class] + 0.04 * (hue - 0.5)) % 1.0
        sat, val = 0.55 + 0.2 * sat, 0.8 + 0.2 * (val - 0.55) / 0.45
    p["albedo"] = _hsv_to_rgb(hue, sat, val)
    angle = rng.uniform(0, 2 * np.pi, (n, surfaces))
    freq = rng.uniform(4.0, 12.0, (n, surfaces))
    p["tex_k"] = np.stack([freq * np.cos(angle), freq * np.sin(angle)], axis=-1)
    p["tex_phase"] = rng.uniform(0, 2 * np.pi, (n, surfaces))
    p["tex_amp"] = rng.uniform(0.0, 0.12, (n, surfaces))
    p["noise_seed"] = rng.integers(0, 2**63 - 1)
    return p


# ---------------------------------------------------------------- ray casting (m scenes at once)
def _cast_sphere(X: A, Y: A, centre: A, radius: A) -> tuple[A, A]:
    dx, dy = np.broadcast_arrays(X - centre[:, 0, None, None], Y - centre[:, 1, None, None])
    rr = radius[:, None, None] ** 2 - dx ** 2 - dy ** 2
    hit = rr > 0
    dz = np.sqrt(np.where(hit, rr, 0.0))
    t = np.where(hit, -centre[:, 2, None, None] - dz, np.inf)
    normal = np.stack([dx, dy, dz], axis=1) / radius[:, None, None, None]
    return t, normal


def _cast_convex(X: A, Y: A, plane_normals: A, offsets: A) -> tuple[A, A]:
    """Ray-cast the solids {P : n_i . P <= o_i for every plane i}; normals (m, P, 3), offsets (m, P).

    Along a pixel's ray P = (X, Y, -t), plane i is crossed at t_i = (n_x X + n_y Y - o_i) / n_z; planes
    facing the camera (n_z > 0) are entered there, the others left. The ray hits the solid when the
    last entry comes before the first exit; the entered plane gives the normal.
    """
    m, P, _ = plane_normals.shape
    t_in = np.full((m,) + np.broadcast_shapes(X.shape, Y.shape)[1:], -np.inf)   # (m, H, W)
    t_out = np.full_like(t_in, np.inf)
    face = np.zeros(t_in.shape, dtype=np.int64)
    for i in range(P):
        nx, ny, nz = (plane_normals[:, i, k, None, None] for k in range(3))
        nz_safe = np.where(np.abs(nz) < 1e-12, 1e-12, nz)  # a face seen exactly edge-on: never the entry
        t_i = (nx * X + ny * Y - offsets[:, i, None, None]) / nz_safe
        entering = nz > 0
        closer = entering & (t_i > t_in)
        t_in = np.where(closer, t_i, t_in)
        face = np.where(closer, i, face)
        t_out = np.where(entering, t_out, np.minimum(t_out, t_i))
    t = np.where(t_in <= t_out, t_in, np.inf)
    normal = plane_normals[np.arange(m)[:, None, None], face].transpose(0, 3, 1, 2)
    return t, normal


def _cast_cylinder(X: A, Y: A, centre: A, up: A, radius: A, half_height: A) -> tuple[A, A]:
    """Upright cylinder: |q - (q.u)u| <= r and |q.u| <= h with q = P - centre."""
    q0 = np.stack(np.broadcast_arrays(X - centre[:, 0, None, None], Y - centre[:, 1, None, None],
                                      -centre[:, 2, None, None]), axis=1)
    u = up[:, :, None, None]
    d = np.array([0.0, 0.0, -1.0])[None, :, None, None]
    w0 = q0 - (q0 * u).sum(1, keepdims=True) * u          # radial part of q0
    dw = d - (d * u).sum(1, keepdims=True) * u            # radial part of the direction (never 0 here)
    a = (dw ** 2).sum(1)
    b = 2 * (w0 * dw).sum(1)
    c = (w0 ** 2).sum(1) - radius[:, None, None] ** 2
    disc = b ** 2 - 4 * a * c
    root = np.sqrt(np.where(disc > 0, disc, 0.0))
    t_side_in, t_side_out = (-b - root) / (2 * a), (-b + root) / (2 * a)
    axial = (q0 * u).sum(1)                                # q.u along the ray is axial - t * u_z
    uz = up[:, 2, None, None]
    h = half_height[:, None, None]
    t_cap_in, t_cap_out = (axial - h) / uz, (axial + h) / uz
    t_in = np.maximum(t_side_in, t_cap_in)
    hit = (disc > 0) & (t_in <= np.minimum(t_side_out, t_cap_out))
    t = np.where(hit, t_in, np.inf)
    on_side = (t_side_in > t_cap_in)[:, None]
    side_normal = (w0 + t_side_in[:, None] * dw) / radius[:, None, None, None]
    normal = np.where(on_side, side_normal, u)
    return t, normal


def _object_geometry(shape: int, base: A, phi: A, s1: A, s2: A, up: A) -> tuple[dict[str, A], A, A]:
    """Size, centre and corners (m, 8, 3; NaN where there are fewer) of m objects of one shape."""
    m = len(base)
    corners = np.full((m, 8, 3), np.nan)
    if shape == 1:                                         # sphere
        size = {"radius": 0.22 + 0.16 * s1}
        centre = base + up * size["radius"][:, None]
    elif shape == 2:                                       # box (a cube on the ground)
        size = {"half": 0.18 + 0.12 * s1}
        centre = base + up * size["half"][:, None]
        axes = np.stack([_horizontal(up, phi), up, _horizontal(up, phi + np.pi / 2)], axis=1)
        signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=float)
        corners = centre[:, None] + np.einsum("cs,msk->mck", signs, axes) * size["half"][:, None, None]
    elif shape == 3:                                       # cylinder
        size = {"radius": 0.16 + 0.12 * s1, "half": 0.18 + 0.2 * s2}
        centre = base + up * size["half"][:, None]
    else:                                                  # square pyramid
        size = {"half": 0.22 + 0.14 * s1, "height": 0.45 + 0.35 * s2}
        apex = base + up * size["height"][:, None]
        centre = base + up * (size["height"][:, None] / 4)   # the centroid of a pyramid
        e = np.stack([_horizontal(up, phi + k * np.pi / 2) for k in range(4)], axis=1)   # (m, 4, 3)
        corners[:, 0] = apex
        corners[:, 1:5] = base[:, None] + (e + np.roll(e, -1, axis=1)) * size["half"][:, None, None]
        size["apex"], size["edges"] = apex, e
    return size, centre, corners


def _cast_object(shape: int, X: A, Y: A, size: dict[str, A], centre: A, base: A, up: A, phi: A) -> tuple[A, A]:
    if shape == 1:
        return _cast_sphere(X, Y, centre, size["radius"])
    if shape == 3:
        return _cast_cylinder(X, Y, centre, up, size["radius"], size["half"])
    if shape == 2:
        axes = np.stack([_horizontal(up, phi), up, _horizontal(up, phi + np.pi / 2)], axis=1)
        normals = np.concatenate([axes, -axes], axis=1)                     # (m, 6, 3)
        offsets = (normals * centre[:, None]).sum(-1) + size["half"][:, None]
        return _cast_convex(X, Y, normals, offsets)
    e, apex = size["edges"], size["apex"]
    sides = e * size["height"][:, None, None] + up[:, None] * size["half"][:, None, None]
    sides /= np.linalg.norm(sides, axis=-1, keepdims=True)
    normals = np.concatenate([-up[:, None], sides], axis=1)                 # base, then 4 sides
    offsets = np.concatenate([-(up * base).sum(-1, keepdims=True), (sides * apex[:, None]).sum(-1)], axis=1)
    return _cast_convex(X, Y, normals, offsets)


def _max3x3(a: A) -> A:
    """Maximum over each pixel's 3x3 neighbourhood of (m, H, W) (edges replicated)."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)), mode="edge")
    H, W = a.shape[1:]
    return np.max([p[:, i:i + H, j:j + W] for i in range(3) for j in range(3)], axis=0)


def _render(p: Params, H: int, W: int) -> tuple[A, A, A, A, A, float]:
    """Render the scenes whose parameters are p (a chunk of _draw_parameters)."""
    n = len(p["d0"])
    X, Y, pitch = pixel_grid(H, W)
    up = np.stack([np.zeros(n), p["slope"], np.ones(n)], axis=1) / np.sqrt(1 + p["slope"] ** 2)[:, None]
    depth = np.broadcast_to(p["d0"][:, None, None] + p["slope"][:, None, None] * Y, (n, H, W)).copy()
    normals = np.broadcast_to(up[:, :, None, None], (n, 3, H, W)).copy()
    instance = np.zeros((n, H, W), dtype=np.int64)
    kp = np.zeros((n, MAX_OBJECTS, KEYPOINTS_PER_OBJECT, 3))          # camera X, Y, depth
    kp_type = np.full((n, MAX_OBJECTS, KEYPOINTS_PER_OBJECT), -1, dtype=np.int64)
    for j in range(MAX_OBJECTS):
        for shape in range(1, NUM_CLASSES):
            idx = np.flatnonzero((p["count"] > j) & (p["shape"][:, j] == shape))
            if idx.size == 0:
                continue
            bx, by = p["base"][idx, j, 0], p["base"][idx, j, 1]
            base = np.stack([bx, by, -(p["d0"][idx] + p["slope"][idx] * by)], axis=1)
            size, centre, corners = _object_geometry(shape, base, p["phi"][idx, j], p["s1"][idx, j],
                                                     p["s2"][idx, j], up[idx])
            t, nrm = _cast_object(shape, X, Y, size, centre, base, up[idx], p["phi"][idx, j])
            closer = t < depth[idx]
            depth[idx] = np.where(closer, t, depth[idx])
            normals[idx] = np.where(closer[:, None], nrm, normals[idx])
            instance[idx] = np.where(closer, j + 1, instance[idx])
            points = np.concatenate([centre[:, None], corners], axis=1)     # (m, 9, 3)
            kp[idx, j] = points * [1, 1, -1]
            kp_type[idx, j] = np.where(np.isnan(points[..., 0]), -1, np.r_[0, np.ones(8, dtype=np.int64)])
    return depth, normals, instance, kp.reshape(n, -1, 3), kp_type.reshape(n, -1), pitch


def _keypoint_pixels(kp: A, kp_type: A, instance: A, depth: A, pitch: float) -> tuple[A, A]:
    """Pixel coordinates and visibility of the keypoints (camera X, Y, depth) of n scenes."""
    n, H, W = instance.shape
    x = kp[..., 0] / pitch + (W - 1) / 2
    y = (H - 1) / 2 - kp[..., 1] / pitch
    valid = kp_type >= 0
    col = np.clip(np.rint(np.where(valid, x, 0)), 0, W - 1).astype(np.int64)
    row = np.clip(np.rint(np.where(valid, y, 0)), 0, H - 1).astype(np.int64)
    inside = valid & (x > -0.5) & (x < W - 0.5) & (y > -0.5) & (y < H - 0.5)
    scene = np.arange(n)[:, None]
    owner = 1 + np.arange(kp.shape[1])[None] // KEYPOINTS_PER_OBJECT
    # a centre is inside its solid: it is visible when its object is what the pixel shows;
    # a corner is on the surface: visible unless something nearer covers its whole 3x3 neighbourhood
    centre_seen = instance[scene, row, col] == owner
    corner_seen = kp[..., 2] <= _max3x3(depth)[scene, row, col] + 2 * pitch
    visible = inside & np.where(kp_type == 0, centre_seen, corner_seen)
    points = np.where(valid[..., None], np.stack([x, y], axis=-1), 0.0)
    return points.astype(np.float32), visible


def _boundaries(instance: A, normals: A, crease_degrees: float = 30.0) -> tuple[A, A]:
    """One-pixel bands (n, H, W): where a pixel's instance differs from its right or lower neighbour,
    and (for the sketch) also where the surface bends by more than crease_degrees."""
    band = np.zeros(instance.shape, dtype=bool)
    band[:, :, :-1] |= instance[:, :, :-1] != instance[:, :, 1:]
    band[:, :-1, :] |= instance[:, :-1, :] != instance[:, 1:, :]
    cos = np.cos(np.radians(crease_degrees))
    crease = np.zeros_like(band)
    crease[:, :, :-1] |= (normals[:, :, :, :-1] * normals[:, :, :, 1:]).sum(1) < cos
    crease[:, :-1, :] |= (normals[:, :, :-1, :] * normals[:, :, 1:, :]).sum(1) < cos
    return band, band | crease


def _shade(p: Params, normals: A, instance: A, noise_rng: np.random.Generator) -> A:
    """RGB (n, 3, H, W): albedo x texture x Lambertian shading (+ a little sensor noise)."""
    n, H, W = instance.shape
    X, Y, _ = pixel_grid(H, W)
    scene = np.arange(n)[:, None, None]
    albedo = p["albedo"][scene, instance]                                   # (n, H, W, 3)
    k = p["tex_k"][scene, instance]
    texture = 1 + p["tex_amp"][scene, instance] * np.sin(k[..., 0] * X + k[..., 1] * Y
                                                          + p["tex_phase"][scene, instance])
    lambert = np.maximum(np.einsum("nchw,c->nhw", normals, LIGHT), 0.0)
    shading = 0.3 + 0.7 * lambert
    rgb = albedo * (texture * shading)[..., None] + noise_rng.normal(0, 0.015, (n, H, W, 3))
    return np.clip(rgb, 0, 1).transpose(0, 3, 1, 2)   # rendering saturates, as a camera does


def generate(n: int, size: int | tuple[int, int] = 64, seed: int = 0, colours: str = "random") -> dict[str, A]:
    """Render n scenes; deterministic from ``seed`` (and n and size).

    colours: "random" (every surface's colour from one distribution, whatever its class) or
    "by_class" (each class near its own hue, CLASS_HUES; for sketch2image).

    Returns a dict of NumPy arrays (H, W from ``size``, an int or (H, W)):

    - ``image`` (n, 3, H, W) float32 in [0, 1]
    - ``labels`` (n, H, W) int64: index into CLASSES, IGNORE_INDEX on a one-pixel band where a
      pixel's object differs from its right or lower neighbour's (PASCAL VOC's unknown boundary)
    - ``instances`` (n, H, W) int64: 0 for the ground, j + 1 for the j-th object
    - ``depth`` (n, 1, H, W) float32 > 0;  ``normals`` (n, 3, H, W) float32 unit (see the module doc)
    - ``edges`` (n, 1, H, W) float32 in {0, 1}: object outlines and creases (the "sketch")
    - ``keypoints`` (n, K, 2) float32 (x, y) pixels, K = MAX_KEYPOINTS, object j owns slots 9j..9j+8
      (its centre, then its corners); ``keypoint_visible`` (n, K) bool;
      ``keypoint_type`` (n, K) int64: index into KEYPOINT_TYPES, -1 for padding
    """
    n = _count_arg("generate", "n", n)
    H, W = _size_arg("generate", size)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"generate: seed must be a non-negative int, got {seed!r}")
    if colours not in ("random", "by_class"):
        raise ValueError(f"generate: colours must be 'random' or 'by_class', got {colours!r}")
    params = _draw_parameters(n, H, W, backend.generator(int(seed)), colours)
    out: dict[str, list[A]] = {k: [] for k in ("image", "labels", "instances", "depth", "normals", "edges",
                           "keypoints", "keypoint_visible", "keypoint_type")}
    for start in range(0, n, _CHUNK):
        chunk = {k: (v[start:start + _CHUNK] if np.ndim(v) else v) for k, v in params.items()}
        depth, normals, instance, kp, kp_type, pitch = _render(chunk, H, W)
        band, edges = _boundaries(instance, normals)
        labels = np.concatenate([np.zeros((len(instance), 1), dtype=np.int64), chunk["shape"]], axis=1)
        labels = labels[np.arange(len(instance))[:, None, None], instance]
        labels[band] = IGNORE_INDEX
        points, visible = _keypoint_pixels(kp, kp_type, instance, depth, pitch)
        out["image"].append(_shade(chunk, normals, instance, backend.generator([chunk["noise_seed"], start]))
                            .astype(np.float32))
        out["labels"].append(labels)
        out["instances"].append(instance)
        out["depth"].append(depth[:, None].astype(np.float32))
        out["normals"].append(normals.astype(np.float32))
        out["edges"].append(edges[:, None].astype(np.float32))
        out["keypoints"].append(points)
        out["keypoint_visible"].append(visible)
        out["keypoint_type"].append(kp_type)
    return {k: np.concatenate(v) for k, v in out.items()}


# ---------------------------------------------------------------- keypoint heatmaps
def heatmap_sigma(size: int | tuple[int, int]) -> float:
    """The Gaussian width of keypoint heatmaps: 1.5 pixels at 64 pixels, scaled with the image
    (but never under 1.5 pixels, or a small image's peaks would be too thin to learn)."""
    H, W = _size_arg("heatmap_sigma", size)
    return max(1.5, 1.5 * min(H, W) / 64)


def keypoint_heatmaps(points: ArrayLike, types: ArrayLike, visible: ArrayLike, size: int | tuple[int, int],
                      sigma: float | None = None) -> NDArray[np.float32]:
    """Heatmaps (len(KEYPOINT_TYPES), H, W) float32 of one scene's keypoints.

    points (K, 2) (x, y), types (K,), visible (K,): each visible point puts a Gaussian of peak 1
    (width ``sigma``, default :func:`heatmap_sigma`) on its type's channel; overlaps take the maximum.
    """
    H, W = _size_arg("keypoint_heatmaps", size)
    sigma = heatmap_sigma((H, W)) if sigma is None else float(sigma)
    points, types, visible = np.asarray(points), np.asarray(types), np.asarray(visible, dtype=bool)
    if points.ndim != 2 or points.shape[1] != 2 or types.shape != points.shape[:1] or visible.shape != types.shape:
        raise ValueError(f"keypoint_heatmaps: need points (K, 2), types (K,) and visible (K,), got shapes "
                         f"{points.shape}, {types.shape} and {visible.shape}")
    out = np.zeros((len(KEYPOINT_TYPES), H, W), dtype=np.float32)
    xs, ys = np.arange(W)[None, None, :], np.arange(H)[None, :, None]
    for t in range(len(KEYPOINT_TYPES)):
        pts = points[visible & (types == t)]
        if len(pts):
            g = np.exp(-((xs - pts[:, 0, None, None]) ** 2 + (ys - pts[:, 1, None, None]) ** 2) / (2 * sigma ** 2))
            out[t] = g.max(axis=0)
    return out


def heatmap_peaks(heatmaps: Tensor | Array, threshold: float = 0.5) -> list[Any]:
    """Decode heatmaps (C, H, W) into C arrays of (x, y) points (float32, (k, 2) each).

    A peak is a pixel at least ``threshold`` and not below any of its 3x3 neighbours (a 3x3 max filter),
    so a plateau gives all its pixels. For (N, C, H, W), a list of such lists.
    """
    h = backend.to_numpy(heatmaps.data if isinstance(heatmaps, Tensor) else heatmaps)   # NumPy, CuPy or Tensor
    if h.ndim == 4:
        return [heatmap_peaks(x, threshold) for x in h]
    if h.ndim != 3:
        raise ValueError(f"heatmap_peaks: heatmaps must be (C, H, W) or (N, C, H, W), got shape {h.shape}")
    peak = (h >= threshold) & (h >= _max3x3(h))
    return [np.stack(np.nonzero(peak[c])[::-1], axis=1).astype(np.float32) for c in range(len(h))]


# ---------------------------------------------------------------- data set
class SceneDataset:
    """n generated scenes as ``(input, target)`` NumPy pairs for one task.

    ============  ====================  ==========================================
    task          input                 target
    ============  ====================  ==========================================
    segmentation  image (3, H, W)       labels (H, W) int64 (IGNORE_INDEX on bands)
    depth         image                 depth (1, H, W)
    normals       image                 normals (3, H, W)
    keypoints     image                 heatmaps (len(KEYPOINT_TYPES), H, W)
    sketch2image  edges (1, H, W)       image (3, H, W)
    autoencode    image                 image
    ============  ====================  ==========================================

    ``arrays`` holds everything :func:`generate` returned. Colours are drawn "by_class" for
    sketch2image (a sketch shows shapes, so colours must follow from them) and at random otherwise.
    """

    def __init__(self, n: int, size: int | tuple[int, int] = 64, seed: int = 0,
                 task: str = "segmentation") -> None:
        if task not in TASKS:
            raise ValueError(f"SceneDataset: task must be one of {TASKS}, got {task!r}")
        self.task = task
        self.size = _size_arg("SceneDataset", size)
        self.num_classes = NUM_CLASSES
        self.classes = CLASSES
        self.arrays = generate(n, self.size, seed, colours="by_class" if task == "sketch2image" else "random")

    def __len__(self) -> int:
        return len(self.arrays["image"])

    def __getitem__(self, i: int) -> tuple[A, A]:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"SceneDataset: index must be an int, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"SceneDataset: index {i} out of range for {len(self)} scenes")
        a = self.arrays
        image = a["image"][i]
        if self.task == "segmentation":
            return image, a["labels"][i]
        if self.task in ("depth", "normals"):
            return image, a[self.task][i]
        if self.task == "keypoints":
            return image, keypoint_heatmaps(a["keypoints"][i], a["keypoint_type"][i], a["keypoint_visible"][i],
                                            self.size)
        if self.task == "sketch2image":
            return a["edges"][i], image
        return image, image

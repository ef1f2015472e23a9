# SPDX-License-Identifier: GPL-3.0-or-later
"""Add SMPL body with tiny synthetic SMPL / SMPL-X-structured model files (the real ones are licensed).

Tolerances: rest vertices and bone heads equal the numpy formula (``v_template + shapedirs·betas``,
``J_regressor @ v``, model → Blender frame, lowest vertex on z = 0) within 1e-6 m (float32 storage);
evaluated (posed) mesh vertices equal numpy linear blend skinning with numpy FK within 1e-5 m.
The first block needs no bpy: the loader, the restricted unpickler and the weight merge, in-process.
"""
import sys

import numpy as np
import pytest

from harness import SCENARIOS, requires_bpy, scenario_once
from motionlcm_core.retarget.body_model import body22_weights, load_body_model, shape_rest, shaped_vertices

sys.path.insert(0, str(SCENARIOS))
from tiny_body import build, write_malicious_pkl, write_tiny_body  # noqa: E402

BONES = ["Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
         "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
         "R_Elbow", "L_Wrist", "R_Wrist"]


def test_shape_formula_matches_smplx(tmp_path):
    torch = pytest.importorskip("torch")
    lbs = pytest.importorskip("smplx.lbs")
    model = load_body_model(write_tiny_body(tmp_path / "m.npz"))
    betas = np.linspace(-1.5, 1.5, 10)
    ref_v = model.v_template + lbs.blend_shapes(torch.tensor(betas)[None], torch.tensor(model.shapedirs))[0].numpy()
    ref_j = lbs.vertices2joints(torch.tensor(model.j_regressor), torch.tensor(ref_v)[None])[0].numpy()
    rest = shape_rest(model, betas)
    assert np.abs(shaped_vertices(model, betas) - ref_v).max() < 1e-12
    assert np.abs(rest.joints - (ref_j[:22] + [0.0, rest.lift, 0.0])).max() < 1e-12
    assert rest.vertices[:, 1].min() == pytest.approx(0.0, abs=1e-12)


def test_pickle_with_sparse_regressor_loads_like_npz(tmp_path):
    a = load_body_model(write_tiny_body(tmp_path / "m.npz"))
    b = load_body_model(write_tiny_body(tmp_path / "m.pkl"))
    assert a.kind == b.kind == "smpl"
    for f in ("v_template", "shapedirs", "j_regressor", "weights", "parents", "faces"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.parents[0] == -1 and a.parents[22] == 20


def test_malicious_pickle_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = write_malicious_pkl(tmp_path / "evil.pkl", marker)
    with pytest.raises(ValueError, match="refused to load evil.pkl.*posix.system.*np.savez"):
        load_body_model(path)
    assert not marker.exists()


def test_smplx_weights_merge_into_wrists_and_head(tmp_path):
    model = load_body_model(write_tiny_body(tmp_path / "x.npz", "smplx"))
    assert model.kind == "smplx" and len(model.parents) == 55
    w = body22_weights(model)
    assert w.shape == (len(model.v_template), 22) and np.abs(w.sum(1) - 1).max() < 1e-12
    finger_l = model.weights[:, 25:40].sum(1) > 0
    head_extra = model.weights[:, 22:25].sum(1) > 0
    assert np.allclose(w[finger_l, 20], model.weights[finger_l][:, [20, *range(25, 40)]].sum(1))
    assert np.allclose(w[head_extra, 15], model.weights[head_extra][:, [15, 22, 23, 24]].sum(1))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("weights"), "missing field.*weights"),
    (lambda d: d.update(f=d["f"] + 10_000), "f indexes vertices that do not exist"),
    (lambda d: d["kintree_table"][0].__setitem__(4, 2), "SMPL kinematic tree"),
    (lambda d: d.update(weights=d["weights"][:, :5]), "weights must be"),
])
def test_bad_model_fields_rejected(tmp_path, change, message):
    data = build("smpl")
    change(data)
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(ValueError, match=message):
        load_body_model(tmp_path / "bad.npz")


def test_bad_paths_rejected(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_body_model(tmp_path / "SMPL_NEUTRAL.npz")
    (tmp_path / "m.obj").write_text("v 0 0 0")
    with pytest.raises(ValueError, match=r"\.npz \(preferred\) or \.pkl"):
        load_body_model(tmp_path / "m.obj")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_body_model(tmp_path / "junk.npz")


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    return scenario_once("body_flow", bpy_version, tmp_path_factory)


@requires_bpy
def test_body_created_with_bone_vertex_groups(flow):
    assert flow["add_error"] == "" and flow["bl_options"] == ["REGISTER", "UNDO"]
    assert flow["groups"] == flow["bones"] == BONES
    assert flow["weight_sum_err"] < 1e-6 and flow["weight_err"] < 1e-6
    assert flow["parent"] == flow["arm_name"] and flow["modifier"] == ["ARMATURE"]
    assert flow["rest0"]["vert_err"] < 1e-6 and flow["rest0"]["joint_err"] < 1e-6
    assert flow["rest0"]["min_z"] == pytest.approx(0.0, abs=1e-6)
    print("add body (558 verts) ms", flow["add_ms"], "apply shape ms", flow["shape_ms"])


@requires_bpy
def test_betas_reshape_rest_and_keep_action(flow):
    assert flow["shape_error"] == ""
    assert flow["rest_moved"] > 0.01, "the test betas must actually move the joints"
    assert flow["rest1"]["vert_err"] < 1e-6 and flow["rest1"]["joint_err"] < 1e-6
    assert flow["action_kept"] is True


@requires_bpy
@pytest.mark.parametrize("key", ["pose0", "pose1"])
def test_posed_mesh_is_linear_blend_skinning(flow, key):
    r = flow[key]
    print(key, r)
    assert r["moved"] > 0.1, "the pose must move the mesh"
    assert r["fk_err"] < 1e-5 and r["lbs_err"] < 1e-5


@requires_bpy
def test_refusals_create_nothing(flow):
    r = flow["refusals"]
    assert not any(case["created"] for case in r.values() if isinstance(case, dict))
    assert "licensed by the MPI" in r["unset"]["msg"] and "SMPL_NEUTRAL.npz" in r["unset"]["msg"]
    assert "Preferences" in r["unset"]["msg"]
    assert "not found" in r["missing"]["msg"]
    assert "missing field(s)" in r["no_weights"]["msg"] and "weights" in r["no_weights"]["msg"]
    assert "not an .npz archive" in r["garbage"]["msg"]
    assert "refused to load evil.pkl" in r["malicious_pkl"]["msg"] and r["malicious_ran"] is False
    assert "not a body made by 'Add SMPL body'" in flow["foreign"]["msg"] and flow["foreign"]["unchanged"]


@requires_bpy
def test_smplx_structured_file(flow):
    r = flow["smplx"]
    assert r["error"] == "" and r["kind"] == "smplx" and r["groups"] == BONES
    assert r["weight_sum_err"] < 1e-6 and r["weight_err"] < 1e-6
    assert r["rest"]["vert_err"] < 1e-6 and r["rest"]["joint_err"] < 1e-6
    assert r["found_in_folder"] == "SMPLX_NEUTRAL.npz"

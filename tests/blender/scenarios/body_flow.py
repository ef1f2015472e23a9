# SPDX-License-Identifier: GPL-3.0-or-later
"""Add SMPL body from tiny synthetic model files; shape, skinning, posing, re-shaping and refusals."""
import sys
import time
from pathlib import Path

import bpy
import numpy as np

import blender_addon
from common import fresh_scene, quat_to_mat, run
from tiny_body import write_malicious_pkl, write_tiny_body
from blender_addon import anim_write, body, compat, rig_build
from motionlcm_core.retarget.body_model import body22_weights, load_body_model, shape_rest
from motionlcm_core.retarget.inverse import model_to_armature

BONES = list(rig_build.SMPL_BONE_NAMES)


def op_error(op) -> str:
    """Run an operator; return its error report ('' when it finished)."""
    try:
        op()
    except RuntimeError as exc:
        return str(exc)
    return ""


def refusals(tmp: Path, props) -> dict:
    """Each bad input: the message, and whether any object/mesh/armature was created."""
    good = load_body_model(write_tiny_body(tmp / "ok.npz"))
    np.savez(tmp / "no_weights.npz", v_template=good.v_template, f=good.faces)
    (tmp / "garbage.npz").write_bytes(b"not a zip archive at all")
    marker = tmp / "pwned"
    cases = {"unset": "", "missing": str(tmp / "nowhere" / "SMPL_NEUTRAL.npz"),
             "no_weights": str(tmp / "no_weights.npz"),
             "garbage": str(tmp / "garbage.npz"), "malicious_pkl": str(write_malicious_pkl(tmp / "evil.pkl", marker))}
    out = {}
    for name, path in cases.items():
        before = (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.armatures))
        props.smpl_model_file = path
        msg = op_error(bpy.ops.motionlcm.add_smpl_body)
        after = (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.armatures))
        out[name] = {"msg": msg, "created": after != before}
    out["malicious_ran"] = marker.exists()
    return out


def fk_matrices(ob, quats: dict, loc: np.ndarray) -> np.ndarray:
    """Numpy FK: posed armature-space bone matrices [22, 4, 4] from rest ``matrix_local`` and pose values."""
    rest = {b.name: np.array(b.matrix_local) for b in ob.data.bones}
    out = {}
    for name in BONES:
        bone = ob.data.bones[name]
        basis = np.eye(4)
        basis[:3, :3] = quat_to_mat(quats[name])
        if bone.parent is None:
            basis[:3, 3] = loc
            out[name] = rest[name] @ basis
        else:
            out[name] = out[bone.parent.name] @ np.linalg.inv(rest[bone.parent.name]) @ rest[name] @ basis
    return np.stack([out[b] for b in BONES])


def lbs(rest_verts: np.ndarray, weights: np.ndarray, ob, posed: np.ndarray) -> np.ndarray:
    """Linear blend skinning: v' = sum_j w_vj * posed_j @ inv(rest_j) @ v (armature space)."""
    skin = posed @ np.linalg.inv(np.stack([np.array(ob.data.bones[b].matrix_local) for b in BONES]))
    hom = np.concatenate([rest_verts, np.ones((len(rest_verts), 1))], axis=1)
    per_bone = np.einsum("jab,vb->vja", skin, hom)[..., :3]
    return np.einsum("vj,vja->va", weights, per_bone)


def mesh_coords(mesh) -> np.ndarray:
    co = np.empty(3 * len(mesh.vertices), dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def evaluated_coords(mesh_ob) -> np.ndarray:
    ev = mesh_ob.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return mesh_coords(ev.data)


def group_weights(mesh_ob) -> tuple[list[str], np.ndarray]:
    """Vertex group names and the weight matrix [V, G] read back from the mesh."""
    names = [g.name for g in mesh_ob.vertex_groups]
    w = np.zeros((len(mesh_ob.data.vertices), len(names)))
    for v in mesh_ob.data.vertices:
        for g in v.groups:
            w[v.index, g.group] = g.weight
    return names, w


def check_rest(arm, mesh_ob, model, betas) -> dict:
    """Rest vertices and bone heads vs the numpy formula (Blender frame, lifted to the floor)."""
    rest = shape_rest(model, np.asarray(betas))
    heads = np.array([np.array(arm.data.bones[b].head_local) for b in BONES])
    return {"vert_err": float(np.abs(mesh_coords(mesh_ob.data) - model_to_armature(rest.vertices, 1.0)).max()),
            "joint_err": float(np.abs(heads - model_to_armature(rest.joints, 1.0)).max()),
            "min_z": float(mesh_coords(mesh_ob.data)[:, 2].min())}


def pose_check(arm, mesh_ob, weights, quats, loc, frame: int) -> dict:
    bpy.context.scene.frame_set(frame)
    posed = fk_matrices(arm, {b: q[frame - 1] for b, q in quats.items()}, loc[frame - 1])
    blender_posed = np.stack([np.array(arm.pose.bones[b].matrix) for b in BONES])
    want = lbs(mesh_coords(mesh_ob.data), weights, arm, posed)
    got = evaluated_coords(mesh_ob)
    return {"lbs_err": float(np.abs(got - want).max()), "fk_err": float(np.abs(blender_posed - posed).max()),
            "moved": float(np.abs(got - mesh_coords(mesh_ob.data)).max())}


def animate(arm, frames: int = 4) -> tuple[dict, np.ndarray, dict]:
    """A random moderate pose action written with the add-on's writer; returns quats, root loc, keys."""
    rng = np.random.default_rng(1)
    quats = {}
    for b in BONES:
        q = np.concatenate([np.ones((frames, 1)), rng.normal(0, 0.3, (frames, 3))], axis=1)
        quats[b] = q / np.linalg.norm(q, axis=1, keepdims=True)
    loc = rng.normal(0, 0.1, (frames, 3))
    action, slot = anim_write.create_action(arm, "body_test", {"prompt": "test"})
    anim_write.write_pose_keys(arm, action, slot, np.arange(1, frames + 1, dtype=float), quats, "Pelvis", loc)
    compat.assign_action(arm, action, slot)
    return quats, loc, anim_write.read_keys(action, slot)


def main() -> dict:
    tmp = Path(sys.argv[1])
    fresh_scene()
    blender_addon.register()
    props = bpy.context.scene.motionlcm
    out = {"refusals": refusals(tmp, props), "bl_options": sorted(bpy.types.MOTIONLCM_OT_add_smpl_body.bl_options)}
    path = write_tiny_body(tmp / "SMPL_NEUTRAL.npz", "smpl")
    model = load_body_model(path)
    props.smpl_model_file = str(path)
    t0 = time.perf_counter()
    out["add_error"] = op_error(bpy.ops.motionlcm.add_smpl_body)
    out["add_ms"] = 1000 * (time.perf_counter() - t0)
    arm = props.target
    mesh_ob = arm[body.BODY_KEY]
    names, w = group_weights(mesh_ob)
    out.update(groups=names, bones=BONES, weight_sum_err=float(np.abs(w.sum(1) - 1).max()),
               weight_err=float(np.abs(w - body22_weights(model)).max()), n_verts=len(mesh_ob.data.vertices),
               parent=mesh_ob.parent.name, modifier=[m.type for m in mesh_ob.modifiers], arm_name=arm.name)
    out["rest0"] = check_rest(arm, mesh_ob, model, np.zeros(10))
    quats, loc, keys = animate(arm)
    out["pose0"] = pose_check(arm, mesh_ob, w, quats, loc, 3)
    betas = np.linspace(-2.0, 2.0, 10)
    props.betas = betas.tolist()
    t0 = time.perf_counter()
    out["shape_error"] = op_error(bpy.ops.motionlcm.apply_body_shape)
    out["shape_ms"] = 1000 * (time.perf_counter() - t0)
    out["rest1"] = check_rest(arm, mesh_ob, model, betas)
    out["rest_moved"] = float(np.abs(model_to_armature(shape_rest(model, betas).joints, 1.0)
                                     - model_to_armature(shape_rest(model, np.zeros(10)).joints, 1.0)).max())
    action = arm.animation_data.action
    now = anim_write.read_keys(action, compat.object_slot(action, arm))
    out["action_kept"] = action.name == "body_test" and all(np.array_equal(keys[k], now[k]) for k in keys)
    out["pose1"] = pose_check(arm, mesh_ob, w, quats, loc, 2)
    out["foreign"] = foreign_case(props)
    out["smplx"] = smplx_case(tmp, props)
    blender_addon.unregister()
    return out


def foreign_case(props) -> dict:
    """Apply shape on an armature we did not make: refused, and its bones stay where they were."""
    rig = rig_build.create_smpl_armature(bpy.context.scene.collection, "UserRig")
    before = np.array([np.array(b.head_local) for b in rig.data.bones])
    props.target = rig
    msg = op_error(bpy.ops.motionlcm.apply_body_shape)
    after = np.array([np.array(b.head_local) for b in rig.data.bones])
    return {"msg": msg, "unchanged": bool(np.array_equal(before, after))}


def smplx_case(tmp: Path, props) -> dict:
    """A 55-joint SMPL-X-structured file: finger/jaw/eye weights merged into the SMPL-22 wrists/head."""
    path = write_tiny_body(tmp / "SMPLX_NEUTRAL.npz", "smplx")
    props.smpl_model_file, props.betas = str(path), [0.5] * 10
    err = op_error(bpy.ops.motionlcm.add_smpl_body)
    arm = props.target
    mesh_ob = arm[body.BODY_KEY]
    names, w = group_weights(mesh_ob)
    model = load_body_model(path)
    return {"error": err, "kind": model.kind, "found_in_folder": body.find_model_file(str(tmp)).name,
            "groups": names, "weight_sum_err": float(np.abs(w.sum(1) - 1).max()),
            "weight_err": float(np.abs(w - body22_weights(model)).max()), "arm_name": arm.name,
            "rest": check_rest(arm, mesh_ob, model, [0.5] * 10)}


run(main)

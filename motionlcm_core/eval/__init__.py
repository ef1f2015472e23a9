"""Evaluation: our text–motion retrieval evaluator, T2M and control metrics, ``evaluate(pipeline)``."""
from motionlcm_core.eval.action_check import ACTIONS, check_actions
from motionlcm_core.eval.control_metrics import control_errors
from motionlcm_core.eval.eval_set import EvalSet, build_eval_set
from motionlcm_core.eval.evaluate import METHODS, EvalConfig, evaluate
from motionlcm_core.eval.evaluator import EvaluatorConfig, TextMotionEvaluator, default_evaluator_path, load_evaluator
from motionlcm_core.eval.metrics import (
    diversity, foot_skating_ratio, frechet_distance, multimodality, r_precision,
)
from motionlcm_core.eval.plot import save_plot
from motionlcm_core.eval.report import format_markdown

__all__ = [
    "ACTIONS", "check_actions", "control_errors", "EvalSet", "build_eval_set", "METHODS", "EvalConfig", "evaluate", "EvaluatorConfig",
    "TextMotionEvaluator", "default_evaluator_path", "load_evaluator", "diversity", "foot_skating_ratio",
    "frechet_distance", "multimodality", "r_precision", "save_plot", "format_markdown",
]

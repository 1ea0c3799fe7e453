"""Functions the task YAMLs name with ``!function``: lm-eval's own, re-exported, so our
numbers are computed by exactly the code lm-eval's hellaswag and truthfulqa_mc2 use."""

from lm_eval.tasks.hellaswag.utils import process_docs as hellaswag_process_docs
from lm_eval.tasks.truthfulqa.utils import process_results_mc2

__all__ = ["hellaswag_process_docs", "process_results_mc2"]

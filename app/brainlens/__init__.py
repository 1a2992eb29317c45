"""BrainLens: brain MRI viewer with on-device tumour classification and segmentation."""

__version__ = "0.1.0"

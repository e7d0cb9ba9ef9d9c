"""Models and text generation: the registry, llama.cpp and Hugging Face backends, LoRA to GGUF."""

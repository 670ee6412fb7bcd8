"""GPT pretraining on the tokenized shards: model, data, FSDP2 training job, sampling."""

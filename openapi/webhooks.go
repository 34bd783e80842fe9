package openapi

func webhookPayloads(b *builder) {}

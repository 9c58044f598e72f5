"""Events: published in the transaction of the change that causes them (an outbox), typed by
the apps' manifests, delivered by `tenantry worker` to in-process consumers and webhooks."""

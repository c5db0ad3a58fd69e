package kinesisaggs.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.DeleteItemRequest;
import software.amazon.awssdk.services.dynamodb.model.DeleteItemResponse;
import software.amazon.kinesis.leases.Lease;
import software.amazon.kinesis.leases.LeaseRefresher;
import software.amazon.kinesis.leases.exceptions.DependencyException;

class LeaseReleaseTest {
    private static Lease lease(final String key, final String owner, final String checkpointOwner) {
        final Lease l = new Lease();
        l.leaseKey(key);
        l.leaseOwner(owner);
        l.checkpointOwner(checkpointOwner);
        return l;
    }

    /** A lease table of the given leases; records which leases were evicted. */
    private static LeaseRefresher table(final List<Lease> leases, final List<String> evicted,
                                        final String refuse) {
        return (LeaseRefresher) Proxy.newProxyInstance(
                LeaseRefresher.class.getClassLoader(), new Class<?>[] {LeaseRefresher.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "listLeases" -> leases;
                    case "evictLease" -> {
                        final Lease l = (Lease) args[0];
                        if (l.leaseKey().equals(refuse)) {
                            throw new DependencyException(new RuntimeException("throttled"));
                        }
                        evicted.add(l.leaseKey());
                        yield true;
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void releasesItsOwnLeasesAndTheHandOffsItWasMaking() {
        final List<String> evicted = new ArrayList<>();
        final List<Lease> leases = List.of(
                lease("shardId-0", "w1", null),
                lease("shardId-1", "w2", null),
                lease("shardId-2", "w1", "w2"),   // being handed to w1 by w2: w2 still checkpoints
                lease("shardId-3", null, null),
                lease("shardId-4", "w1", null),
                lease("shardId-5", "w3", "w1"));  // w1 was handing it to w3: w3 takes it now
        assertEquals(3, LeaseRelease.releaseOwn(table(leases, evicted, null), "w1"));
        assertEquals(List.of("shardId-0", "shardId-4", "shardId-5"), evicted);
    }

    @Test
    void aLeaseThatCannotBeReleasedIsLeftToExpire() {
        final List<String> evicted = new ArrayList<>();
        final List<Lease> leases = List.of(lease("shardId-0", "w1", null), lease("shardId-1", "w1", null));
        assertEquals(1, LeaseRelease.releaseOwn(table(leases, evicted, "shardId-0"), "w1"));
        assertEquals(List.of("shardId-1"), evicted);
    }

    /** A DynamoDB client whose deleteItem records the request and answers as given. */
    private static DynamoDbAsyncClient client(final List<DeleteItemRequest> seen, final Throwable answer) {
        return (DynamoDbAsyncClient) Proxy.newProxyInstance(
                DynamoDbAsyncClient.class.getClassLoader(), new Class<?>[] {DynamoDbAsyncClient.class},
                (proxy, method, args) -> {
                    if (!method.getName().equals("deleteItem")) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    seen.add((DeleteItemRequest) args[0]);
                    return answer == null
                            ? CompletableFuture.completedFuture(DeleteItemResponse.builder().build())
                            : CompletableFuture.failedFuture(answer);
                });
    }

    @Test
    void theWorkersMetricsRowIsDeletedOnlyIfItIsOne() {
        final List<DeleteItemRequest> seen = new ArrayList<>();
        assertTrue(LeaseRelease.forgetWorker(client(seen, null), "app", "w1"));
        final DeleteItemRequest r = seen.get(0);
        assertEquals("app", r.tableName());
        assertEquals("w1", r.key().get("leaseKey").s());
        assertEquals("entityType = :metrics", r.conditionExpression());
        assertEquals("WORKER_METRIC_STATS", r.expressionAttributeValues().get(":metrics").s());
        assertFalse(LeaseRelease.forgetWorker(
                client(seen, ConditionalCheckFailedException.builder().message("no").build()), "app", "w1"));
    }
}

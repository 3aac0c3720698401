<?php

class Model
{
    const STATUS_TABLE = 'customer_status';
}

class Customer extends Model
{
    const TABLE = 'shop_customers';

    private $pdo;

    public function __construct(PDO $pdo)
    {
        $this->pdo = $pdo;
    }

    public function find($id)
    {
        $stmt = $this->pdo->prepare('SELECT id, name, email FROM ' . self::TABLE . ' WHERE id = :id');
        $stmt->execute(['id' => $id]);
        return $stmt->fetch();
    }

    public function statusName($code)
    {
        return $this->pdo->query(
            "SELECT label FROM " . parent::STATUS_TABLE . " WHERE code = " . $this->pdo->quote($code)
        )->fetchColumn();
    }

    public function rename($id, $name)
    {
        $sql = "UPDATE " . static::TABLE . " SET name = ?, updated_at = NOW() WHERE id = ?";
        return $this->pdo->prepare($sql)->execute([$name, $id]);
    }
}
